"""The bundled models' FLOPs per NFE, per decode and per verifier call, as the engine counts them (issue 28).

    python -m tsearch.bench flops

Counted with torch's FLOP counter on one real forward (`tsearch.flops`): matrix products, convolutions and
attention, a multiply-add as 2 FLOPs; elementwise work is not counted (so the analytic gmm counts 0).
"""

from __future__ import annotations

from tsearch.flops import of_search

BUNDLED = (("gmm", 1, ["gmm-density"]), ("digits", 3, ["digits-classifier"]),
           ("shapes", "a red circle", ["shapes-clip", "shapes-quality", "shapes-oracle"]),
           ("shapes-distilled", "a red circle", ["shapes-clip"]))


def main(argv=None) -> None:
    from tsearch.models import load_model
    from tsearch.verifiers import load_verifier

    for name, condition, verifiers in BUNDLED:
        try:
            m = load_model(name)
            cost = of_search(m, m.encode(condition), [load_verifier(v, model=m) for v in verifiers], condition)
        except Exception as error:  # noqa: BLE001 - a listing: say why and go on
            print(f"{name}: {error}")
            continue
        calls = ", ".join(f"{v} {f:,}" if f is not None else f"{v} not counted" for v, f in cost.per_call.items())
        print(f"{name}: {cost.per_nfe:,} FLOPs per NFE ({m.noise_shape}, {m.nfe_per_eval} pass(es) an evaluation, "
              f"counted over {cost.rows} rows); decode {cost.per_decode:,}; one verifier call: {calls}")


if __name__ == "__main__":
    main()
