"""Reading data files: YAML in, validated pydantic objects out, and one-line errors
(`<file>: <key path>: <reason>`) when anything is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from router.errors import ConfigError

try:  # the C loader is ~10x faster; fall back when PyYAML was built without libyaml
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for data-file schemas: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file; raises ConfigError naming the file and line on failure."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path.name}: cannot read file: {exc.strerror or exc}"]) from exc
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{path.name}: {where}: invalid YAML: {problem}"]) from exc


def key_path(loc: tuple[int | str, ...]) -> str:
    """('models', 3, 'pricing', 'input') -> 'models[3].pricing.input'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _reason(error: Any) -> str:
    kind = error["type"]
    got = error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling)"
    message = error["msg"]
    message = message[0].lower() + message[1:]
    message = message.replace("input should be", "must be")
    if kind.startswith("value_error"):
        message = message.removeprefix("value error, ")
        return message
    return f"{message}, got {got!r}"


def validate(schema: type[M], data: Any, filename: str) -> M:
    """Validate parsed YAML against a schema; raises ConfigError with one line per problem."""
    if data is None:
        raise ConfigError([f"{filename}: (top level): file is empty"])
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        lines = [f"{filename}: {key_path(e['loc'])}: {_reason(e)}" for e in exc.errors()]
        raise ConfigError(lines) from None
