"""The base of every plugin's option schema (a ``[tenants.NAME.PLUGIN]`` section).

It adds, for every plugin alike, what the configuration contract promises:
- unknown keys are errors (a typo must not be silently ignored);
- a secret (a ``SecretStr`` field) may be read from a file named by ``<key>_file``;
- lists and tables may come from the environment as JSON text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, get_origin

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator


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
            path = Path(str(data.pop(file_key)))
            try:
                data[name] = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{file_key!r}: cannot read {path}: {exc.strerror}") from None
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
