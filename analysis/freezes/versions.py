"""The software a freeze was computed with: libraries (as a model run records them) and
the project's git commit."""
from __future__ import annotations

import subprocess

from django.conf import settings

from ..runs.compute import library_versions

UNKNOWN = "unknown"


def git_commit() -> str:
    """The project's commit ("-dirty" when the tree has uncommitted changes), or "unknown"
    (an installation without git or without the repository, e.g. the Docker image)."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=settings.BASE_DIR, capture_output=True,
                              text=True, timeout=10, check=False)

    try:
        head = git("rev-parse", "--verify", "HEAD")
        if head.returncode != 0:
            return UNKNOWN
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return head.stdout.strip() + ("-dirty" if dirty else "")


def software_versions() -> dict[str, str]:
    return {**library_versions(), "git_commit": git_commit()}
