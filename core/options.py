"""The base of every plugin's option schema (a ``[tenants.NAME.PLUGIN]`` section).

It adds, for every plugin alike, what the configuration contract promises:
- unknown keys are errors (a typo must not be silently ignored);
- a secret (a ``SecretStr`` field) may be read from a file named by ``<key>_file``;
- lists and tables may come from the environment as JSON text.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, ClassVar, get_origin

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

MAX_SECRET_FILE_BYTES = 64 * 1024
"""A secret file larger than this is a mistake (the wrong path), not a secret."""


def secret_file_problem(path: Path, info: os.stat_result) -> str | None:
    """What makes the file ``info`` describes no secret file: only a small regular file is
    read (a FIFO would hang the reader, ``/dev/zero`` would fill the memory)."""
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if info.st_size > MAX_SECRET_FILE_BYTES:
        return (
            f"{path} holds {info.st_size} bytes, too many for a secret "
            f"({MAX_SECRET_FILE_BYTES} at most)"
        )
    return None


def read_secret_file(path: Path) -> str:
    """The secret a file holds, stripped; ``ValueError`` saying why it cannot be read.

    Opened without blocking and checked on the open file, so that a FIFO or a device put
    in place of the file after a check is refused too, and read no further than the cap."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        problem = secret_file_problem(path, os.fstat(fd))
        if problem is not None:
            raise ValueError(problem)
        content = file.read(MAX_SECRET_FILE_BYTES + 1)
    if len(content) > MAX_SECRET_FILE_BYTES:  # it grew since fstat
        raise ValueError(f"{path} holds too many bytes for a secret")
    try:
        return content.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None


class PluginOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Fields that are secrets; filled in for each subclass from its annotations.
    secret_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.secret_fields = frozenset(
            name
            for name, info in cls.model_fields.items()
            if info.annotation in (SecretStr, SecretStr | None)
        )

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files_and_json(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in cls.secret_fields:
            file_key = f"{name}_file"
            if file_key not in data:
                continue
            if data.get(name) is not None:
                raise ValueError(f"give either {name!r} or {file_key!r}, not both")
            try:
                data[name] = read_secret_file(Path(str(data.pop(file_key))))
            except ValueError as exc:
                raise ValueError(f"{file_key!r}: {exc}") from None
        for name, info in cls.model_fields.items():
            value = data.get(name)
            if isinstance(value, str) and get_origin(info.annotation) in (list, dict, tuple):
                try:
                    data[name] = json.loads(value)
                except json.JSONDecodeError:
                    raise ValueError(f"{name!r}: expected JSON text, got {value!r}") from None
        return data

    def secrets(self) -> list[str]:
        """The secret values this section holds, so that logs can mask them."""
        values = (getattr(self, name) for name in self.secret_fields)
        return [v.get_secret_value() for v in values if isinstance(v, SecretStr)]
