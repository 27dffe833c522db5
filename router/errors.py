"""The one exception family of autotier: every error carries a code a client can act on."""

from __future__ import annotations


class AutotierError(Exception):
    """Base error. `code` is stable and machine-readable; `status` is the HTTP status to use."""

    code: str = "autotier_error"
    status: int = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class ConfigError(AutotierError):
    """A data file is missing or invalid. `problems` holds one line per problem:
    `<file>: <key path>: <reason>`."""

    code = "invalid_config"
    status = 500

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class RoutingError(AutotierError):
    """The request cannot be routed (unknown model, nothing available, unsupported input)."""

    code = "routing_error"
    status = 400


class UnknownModelError(RoutingError):
    code = "model_not_found"
    status = 404


class NoModelAvailableError(RoutingError):
    """Every candidate of the tier is unavailable or cooling down. The code names the tier,
    e.g. `no_free_models_available`."""

    status = 503

    def __init__(self, tier: str, message: str):
        super().__init__(message, code=f"no_{tier}_models_available")
        self.tier = tier


class UnsupportedInputError(RoutingError):
    """No candidate accepts an input modality the request needs (e.g. images)."""

    code = "unsupported_input_modality"
    status = 400


class PolicyError(RoutingError):
    """A key's policy (router.policy) forbids what the request needs: the requested model or
    every candidate of the tier (`policy_denied`), or the key names a policy the file does
    not define (`unknown_policy`). The message names the policy; `policy` holds its name."""

    code = "policy_denied"
    status = 403

    def __init__(self, policy: str, message: str, *, code: str | None = None):
        super().__init__(message, code=code)
        self.policy = policy
