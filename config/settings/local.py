"""The embedded default for `make run`: SQLite, tasks in-process, DEBUG on."""
from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
