"""Calling a verifier safely: one score per image, numbers only, within a deadline.

A custom verifier or a remote grader can fail, return the wrong thing or hang. Each call here runs in
its own daemon thread and is waited for at most `timeout` seconds (on by default, DEFAULT_SECONDS);
past it the search ends with an error that names the verifier and the deadline, and everything
scored before is kept. A hung call cannot be killed from Python: its thread is left behind, idle to
the search.
"""

from __future__ import annotations

import os
import threading

import torch

DEFAULT_SECONDS = float(os.environ.get("TSEARCH_VERIFIER_TIMEOUT") or 600.0)


class VerifierError(ValueError):
    """A verifier failed, returned something other than one number per image, or missed its deadline."""


def _call(scorer, images, condition, reference):
    if reference is not None and getattr(scorer, "reference_t", None) is not None:
        return scorer.score(images, condition, reference=reference)
    return scorer.score(images, condition)


def _run_with_deadline(fn, timeout: float | None):
    if not timeout or timeout <= 0:
        return fn()
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread below
            box["error"] = error

    thread = threading.Thread(target=target, name="tsearch-verifier", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]


def score_with_deadline(scorer, images: torch.Tensor, condition, reference=None,
                        timeout: float | None = DEFAULT_SECONDS) -> torch.Tensor:
    """scorer's scores of `images` as a float64 CPU tensor [b]; VerifierError naming the scorer otherwise."""
    name = getattr(scorer, "name", repr(scorer))
    try:
        scores = _run_with_deadline(lambda: _call(scorer, images, condition, reference), timeout)
    except TimeoutError:
        raise VerifierError(f"verifier {name!r} did not answer within {timeout:g} s; the search ended and keeps "
                            f"what it found (raise the deadline with verifier_timeout= or "
                            f"$TSEARCH_VERIFIER_TIMEOUT)") from None
    except VerifierError:
        raise
    except Exception as error:  # noqa: BLE001 - a verifier's own failure, reported with its name
        raise VerifierError(f"verifier {name!r} failed: {error}" if isinstance(error, ValueError)
                            else f"verifier {name!r} failed: {type(error).__name__}: {error}") from error
    if scores is None or isinstance(scores, (str, bytes)):
        raise VerifierError(f"verifier {name!r} returned {scores!r}; a verifier returns one number per image")
    try:
        scores = torch.as_tensor(scores, dtype=torch.float64).reshape(-1).cpu()
    except (TypeError, ValueError, RuntimeError):
        raise VerifierError(f"verifier {name!r} returned {type(scores).__name__} {str(scores)[:60]!r}, not numbers; "
                            f"a verifier returns one number per image") from None
    if scores.shape[0] != images.shape[0]:
        raise VerifierError(f"verifier {name!r} returned {scores.shape[0]} scores for {images.shape[0]} images; "
                            "a verifier must return one score per image")
    return scores
