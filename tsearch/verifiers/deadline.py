"""Calling a verifier safely: one score per image, numbers only, within a deadline.

A custom verifier or a remote grader can fail, return the wrong thing or hang. Each call here runs on
a search's daemon worker thread and is waited for at most `timeout` seconds (on by default, DEFAULT_SECONDS);
past it the search ends with an error that names the verifier and the deadline, and everything
scored before is kept. A hung call cannot be killed from Python: its thread is left behind, idle to
the search.
"""

from __future__ import annotations

import queue
import threading

import torch

DEFAULT = 600.0                 # seconds one verifier call may take unless $TSEARCH_VERIFIER_TIMEOUT says otherwise
DEFAULT_SECONDS = None          # a Caller given None reads $TSEARCH_VERIFIER_TIMEOUT (else DEFAULT) when it is made


def default_seconds() -> float:
    """The deadline: $TSEARCH_VERIFIER_TIMEOUT (seconds, 0 = none) or DEFAULT; ValueError naming it when bad.

    Read where it is used (a Caller being made), never at import, so a bad value breaks no import."""
    from tsearch.envvars import seconds

    return seconds("TSEARCH_VERIFIER_TIMEOUT", DEFAULT)


class VerifierError(ValueError):
    """A verifier failed, returned something other than one number per image, or missed its deadline."""


def _call(scorer, images, condition, reference):
    if reference is not None and getattr(scorer, "reference_t", None) is not None:
        return scorer.score(images, condition, reference=reference)
    return scorer.score(images, condition)


class Caller:
    """Runs calls on one daemon worker thread and waits for each at most `timeout` seconds.

    One worker per search: handing a call over costs microseconds (a thread per call cost ~3-5 ms
    here). After a call misses its deadline the worker is abandoned, still busy, and a fresh one takes
    the next call; being a daemon, it never holds up the interpreter's exit."""

    def __init__(self, timeout: float | None = None):
        self.timeout = default_seconds() if timeout is None else timeout
        self._jobs: queue.SimpleQueue | None = None

    def _worker(self) -> queue.SimpleQueue:
        if self._jobs is None:
            jobs: queue.SimpleQueue = queue.SimpleQueue()

            def serve():
                while True:
                    job = jobs.get()
                    if job is None:
                        return
                    fn, box, done = job
                    try:
                        box["value"] = fn()
                    except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                        box["error"] = error
                    done.set()

            self._thread = threading.Thread(target=serve, name="tsearch-verifier", daemon=True)
            self._thread.start()
            self._jobs = jobs
        return self._jobs

    def __call__(self, fn):
        if not self.timeout or self.timeout <= 0:
            return fn()
        box: dict = {}
        done = threading.Event()
        self._worker().put((fn, box, done))
        if not done.wait(self.timeout):
            self._jobs = None   # the worker is stuck in that call: leave it, start afresh next time
            raise TimeoutError
        if "error" in box:
            raise box["error"]
        return box["value"]

    def close(self) -> None:
        """Let an idle worker end (and wait for it briefly: a thread still inside torch at exit aborts)."""
        if self._jobs is not None:
            self._jobs.put(None)
            self._jobs = None
            self._thread.join(timeout=5)


def score_with_deadline(scorer, images: torch.Tensor, condition, reference=None,
                        caller: Caller | None = None) -> torch.Tensor:
    """scorer's scores of `images` as a float64 CPU tensor [b]; VerifierError naming the scorer otherwise."""
    name = getattr(scorer, "name", repr(scorer))
    caller = caller or Caller()
    try:
        scores = caller(lambda: _call(scorer, images, condition, reference))
    except TimeoutError:
        raise VerifierError(f"verifier {name!r} did not answer within {caller.timeout:g} s; the search ended and keeps "
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
