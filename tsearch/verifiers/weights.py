"""Where real verifiers' weights come from: a local file or folder, or the Hugging Face hub.

Every loader goes through here so that missing weights raise one kind of error (`Unavailable`)
that names the verifier and says how to provide them, and so that `available()` checks stay cheap
(the local cache and HF_HUB_OFFLINE are consulted; nothing is downloaded or loaded).
"""

from __future__ import annotations

import os

from tsearch.registry import Unavailable


def how_to_provide(repo_id: str) -> str:
    return (f"log in with `huggingface-cli login` if needed, accept the licence on https://huggingface.co/{repo_id} "
            f"if it is gated, and run where the hub is reachable (unset HF_HUB_OFFLINE); or download it elsewhere "
            f"(`huggingface-cli download {repo_id}`) and pass the local path instead")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_file(repo_or_path: str, filename: str, verifier: str) -> str:
    """A local path to `filename`: the path itself, a file inside a local folder, or a hub download."""
    if os.path.isfile(repo_or_path):
        return repo_or_path
    if os.path.isdir(repo_or_path):
        path = os.path.join(repo_or_path, filename)
        if not os.path.isfile(path):
            raise Unavailable(f"{verifier}: {filename} not found in the folder {repo_or_path}")
        return path
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return hf_hub_download(repo_or_path, filename)
    except (OSError, EntryNotFoundError, ValueError) as error:
        raise unavailable(verifier, repo_or_path, error) from error


def unavailable(verifier: str, repo_or_path: str, error: BaseException) -> Unavailable:
    detail = (str(error).strip().splitlines() or ["no details"])[0]
    return Unavailable(f"{verifier}: cannot load weights from {repo_or_path!r} ({type(error).__name__}: {detail}); "
                       f"to use it, {how_to_provide(repo_or_path)}")


def cached(repo_or_path: str, filenames: str | tuple[str, ...]) -> bool:
    """Whether one of `filenames` is on disk already (a local path, or the hub cache)."""
    names = (filenames,) if isinstance(filenames, str) else filenames
    if os.path.exists(repo_or_path):
        return os.path.isfile(repo_or_path) or any(os.path.isfile(os.path.join(repo_or_path, n)) for n in names)
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo_or_path, n), str) for n in names)


def status(*files: tuple[str, str | tuple[str, ...]]) -> tuple[bool, str]:
    """(available, reason) for (repo or path, filename(s)) pairs: cached, or downloadable when online."""
    missing = list(dict.fromkeys(repo for repo, filenames in files if not cached(repo, filenames)))
    if not missing:
        return True, "weights in the local cache"
    if offline():
        return False, (f"{', '.join(missing)} not in the local cache and HF_HUB_OFFLINE is set; "
                       f"to use it, {how_to_provide(missing[0])}")
    return True, f"downloads {', '.join(missing)} from the hub on first use"
