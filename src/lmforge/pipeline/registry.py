"""The stage-kind registry: the built-in kinds, plus any a caller (a plugin, a test) registers.

Registration is explicit: `Registry.register` adds a kind, and the built-ins are added the
first time a name is looked up, by calling `builtin_kinds()` rather than by importing a module
for its side effects. The modules that define kinds import only `kinds.py`, so there is no
import cycle between the registry and the kinds it holds.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lmforge.errors import ConfigError
from lmforge.pipeline.kinds import StageKind


def _builtins() -> tuple[StageKind, ...]:
    from lmforge.pipeline.builtin_kinds import builtin_kinds

    return builtin_kinds()


@dataclass(slots=True)
class Registry:
    """Kinds by name. Kinds registered before the built-ins load keep precedence over them."""

    loader: Callable[[], tuple[StageKind, ...]] = _builtins
    kinds: dict[str, StageKind] = field(default_factory=dict)
    loaded: bool = False

    def _load(self) -> None:
        if not self.loaded:
            self.loaded = True
            for kind in self.loader():
                self.kinds.setdefault(kind.name, kind)

    def register(self, kind: StageKind) -> StageKind:
        """Add a kind; re-registering a name replaces the kind it had (built-in or not)."""
        self._load()
        self.kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> StageKind:
        self._load()
        if name not in self.kinds:
            have = ", ".join(sorted(self.kinds))
            raise ConfigError(f"unknown stage kind {name!r}; available: {have}")
        return self.kinds[name]

    def __iter__(self) -> Iterator[StageKind]:
        self._load()
        return iter(sorted(self.kinds.values(), key=lambda k: k.name))


REGISTRY = Registry()


def register(kind: StageKind) -> StageKind:
    """Add a kind to the process-wide registry (the one `lmforge run` uses)."""
    return REGISTRY.register(kind)


def get_kind(name: str) -> StageKind:
    """The kind called `name` in the process-wide registry, or a ConfigError listing them."""
    return REGISTRY.get(name)
