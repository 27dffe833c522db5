"""The live routing config and its hot reload: the data files are re-read when they
change (polled) or on SIGHUP; a file that fails validation is logged and the previous
config stays live."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from router.config import RouterConfig, default_data_dir, load_config
from router.errors import ConfigError
from router.tier_changes import Snapshot, mapping_snapshot, mapping_version

log = logging.getLogger("autotier.gateway")
WATCHED = ("catalog.yaml", "tiers.yaml", "policies.yaml")


class ConfigHolder:
    """Holds the current `RouterConfig`; `reload()` swaps it atomically. `mapping` is the
    tier mapping's snapshot and `mapping_version` its content hash (router.tier_changes);
    `listeners` are called with the reload's source after each successful reload."""

    def __init__(self, data_dir: Path | None = None):
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.config: RouterConfig = load_config(self.data_dir)
        self.mapping: Snapshot = mapping_snapshot(self.config.tiers)
        self.mapping_version = mapping_version(self.mapping)
        self.listeners: list[Callable[[str], None]] = []
        self.version = 1
        self.last_error: str | None = None
        self._stamps = self._read_stamps()

    def _read_stamps(self) -> tuple[tuple[int, int] | None, ...]:
        """Modification stamps of the config files and every accuracy table they name."""
        stamps: list[tuple[int, int] | None] = []
        for name in (*WATCHED, *sorted(self.config.accuracy)):
            try:
                stat = (self.data_dir / name).stat()
                stamps.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def reload(self, source: str = "reload") -> bool:
        """Re-read the files; True if the new config is live. A bad file keeps the old one.
        `source` (e.g. "file change", "SIGHUP") is passed to the listeners."""
        self._stamps = self._read_stamps()
        try:
            config = load_config(self.data_dir)
        except ConfigError as exc:
            self.last_error = str(exc)
            log.error("config reload rejected, previous config stays live:\n%s", exc)
            return False
        except Exception as exc:  # noqa: BLE001 - unreadable file, bad YAML: keep serving
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("config reload rejected, previous config stays live: %s", self.last_error)
            return False
        self.config = config
        self.mapping = mapping_snapshot(config.tiers)
        self.mapping_version = mapping_version(self.mapping)
        self.version += 1
        self.last_error = None
        log.info("config reloaded from %s (version %d, tier mapping %s)", self.data_dir, self.version,
                 self.mapping_version)
        for listener in self.listeners:
            try:
                listener(source)
            except Exception:  # noqa: BLE001 - a listener's failure must not undo a good reload
                log.exception("config reload listener failed")
        return True

    def changed(self) -> bool:
        return self._read_stamps() != self._stamps

    async def watch(self, interval_s: float) -> None:
        """Poll the files forever; reload when one changes. Cancel to stop."""
        while True:
            await asyncio.sleep(interval_s)
            if self.changed():
                self.reload("file change")
