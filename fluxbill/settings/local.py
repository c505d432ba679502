"""Development defaults: debug on, everything on one machine."""

from .base import *  # noqa: F401,F403
from .env import env

DEBUG = env.bool("DEBUG", default=True)
