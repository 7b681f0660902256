"""The plugin host: loads built-ins and entry-point plugins, resolves component names.

Built-in components and third-party plugins go through the same pluggy hooks
(:mod:`drama2.hookspecs`). Each plugin's hooks are called one plugin at a
time, so a plugin that fails to import or raises while registering is
recorded (name, distribution, error) and skipped without touching any other
plugin's components. In strict mode (``Registry(strict=True)`` or
``DRAMA2_STRICT_PLUGINS=1``) such a failure raises :class:`PluginLoadError`.

Names are resolved at lookup: a name registered by two providers is an
:class:`AmbiguousComponentError` listing the qualified ``provider:name``
forms, and an unknown name is an :class:`UnknownComponentError` with
close-match suggestions.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from drama2 import hookspecs
from drama2.errors import (
    AmbiguousComponentError,
    ComponentLoadError,
    PluginLoadError,
    UnknownComponentError,
)

__all__ = ["KINDS", "Registration", "PluginInfo", "Registry", "get_registry", "reset_registry"]

KINDS = tuple(hookspecs.HOOK_KINDS.values())
BUILTIN_PROVIDER = "drama2"
_SINGULAR = {kind[:-1]: kind for kind in KINDS}


def normalize_kind(kind: str) -> str:
    """Return the canonical plural kind name (``"reducer"`` → ``"reducers"``)."""
    kind = str(kind).lower()
    kind = _SINGULAR.get(kind, kind)
    if kind not in KINDS:
        raise UnknownComponentError(
            f"unknown component kind {kind!r}; the kinds are: {', '.join(KINDS)}"
        )
    return kind


@dataclass(frozen=True)
class Registration:
    """One component as registered by one provider (a plugin or the built-ins)."""

    kind: str
    name: str
    provider: str
    target: Any
    description: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        """``provider:name``, which is unique even when ``name`` is not."""
        return f"{self.provider}:{self.name}"

    @property
    def is_lazy(self) -> bool:
        return isinstance(self.target, str)

    @property
    def family_prefix(self) -> str | None:
        """For a family registration such as ``pyod:*``, the prefix its members' names start with."""
        return self.name[:-1] if self.name.endswith("*") else None

    def member(self, name: str) -> "Registration":
        """The registration of family member ``name`` (e.g. ``pyod:ECOD`` of ``pyod:*``)."""
        return Registration(self.kind, name, self.provider, self.target, self.description,
                            {**self.metadata, "member": name[len(self.family_prefix):]})

    def members(self) -> list[str]:
        """Full names of a family's available members (``pyod:ECOD``, ...), when it registered a ``members``
        callable (a ``"module:attr"`` string); an empty list for other registrations or when the callable
        fails (e.g. the backing library is not installed)."""
        lister = self.metadata.get("members")
        if self.family_prefix is None or lister is None:
            return []
        try:
            names = Registration(self.kind, self.name, self.provider, lister)._load_target()()
        except Exception:  # noqa: BLE001 - a listing must not fail because an optional library is missing
            return []
        return [self.family_prefix + str(n) for n in names]

    def load(self) -> Any:
        """Return the component, importing a lazy ``"module:attr"`` target on first use.

        A family member's target is a factory called with the member's name, so ``pyod:ECOD``
        loads as ``make_pyod_factory("ECOD")``.
        """
        obj = self._load_target()
        return obj(self.metadata["member"]) if "member" in self.metadata else obj

    def _load_target(self) -> Any:
        if not self.is_lazy:
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise ComponentLoadError(
                f"{self.kind[:-1]} {self.qualified_name!r} points at {self.target!r}, which could not be "
                f"imported: {type(exc).__name__}: {exc}. Reinstall the providing package or pick another "
                f"{self.kind[:-1]}."
            ) from exc
        return obj


@dataclass
class PluginInfo:
    """What the registry knows about one plugin, for ``drama2 plugins``."""

    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    status: str = "ok"  # "ok" or "failed"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "status": self.status,
            "error": self.error,
            "hooks": list(self.hooks),
            "components": {k: list(v) for k, v in self.components.items()},
        }


def _check_registration(name: Any, factory: Any) -> None:
    if not isinstance(name, str) or not name or name != name.strip() or any(c.isspace() for c in name):
        raise ValueError(f"component names must be non-empty strings without spaces, got {name!r}")
    if isinstance(factory, str):
        module_name, sep, attr = factory.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"lazy factory for {name!r} must look like 'module:attr', got {factory!r}")
    elif not callable(factory):
        raise ValueError(f"factory for {name!r} must be callable or a 'module:attr' string, got {factory!r}")


class Registry:
    """All components known to drama2, from the built-ins and installed plugins.

    Parameters
    ----------
    strict : bool, optional
        Make a failing plugin fatal instead of reported and skipped. Defaults
        to the ``DRAMA2_STRICT_PLUGINS`` environment variable.
    load_entry_points : bool, default True
        Load plugins advertised under the ``drama2`` entry-point group.
    plugins : iterable of (name, module-or-object) pairs, optional
        Extra plugin objects to register, for tests and embedding.
    """

    def __init__(self, *, strict: bool | None = None, load_entry_points: bool = True,
                 plugins: Iterable[tuple[str, Any]] = ()):
        if strict is None:
            strict = os.environ.get("DRAMA2_STRICT_PLUGINS", "").lower() in {"1", "true", "yes"}
        self.strict = bool(strict)
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self._registrations: dict[str, list[Registration]] = {kind: [] for kind in KINDS}

        from drama2 import builtins

        self._add_plugin(BUILTIN_PROVIDER, builtins, distribution="drama2", builtin=True)
        if load_entry_points:
            self._load_entry_points()
        for name, obj in plugins:
            self._add_plugin(name, obj, distribution=None, builtin=False)
        self._collect()

    # -- loading ---------------------------------------------------------------------------
    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        info.status = "failed"
        info.error = f"{stage}: {type(exc).__name__}: {exc}"
        if self.strict:
            raise PluginLoadError(
                f"plugin {info.name!r} (distribution {info.distribution or 'unknown'}) failed during "
                f"{info.error}"
            ) from exc

    def _add_plugin(self, name: str, obj: Any, *, distribution: str | None, builtin: bool,
                    version: str | None = None) -> None:
        if version is None and distribution:
            try:
                version = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                version = None
        info = PluginInfo(name=name, distribution=distribution, version=version, builtin=builtin)
        self._plugins[name] = info
        if obj is None:
            return
        unknown = _unknown_hooks(obj)
        if unknown:  # pluggy would register such a function and never call it: a typo would go unnoticed
            hints = {u: difflib.get_close_matches(u, _HOOK_NAMES, n=1) for u in unknown}
            text = "; ".join(f"{u!r}" + (f" (did you mean {m[0]!r}?)" if m else "") for u, m in hints.items())
            self._fail(info, "registration", ValueError(f"unknown hook {text}; hooks are {', '.join(_HOOK_NAMES)}"))
            return
        unmarked = _unmarked_hooks(obj)
        if unmarked:  # pluggy never calls a hook function without the marker: the plugin would register nothing
            self._fail(info, "registration", ValueError(
                f"{', '.join(repr(u) for u in unmarked)} not marked with @drama2.hookimpl, so it would never be "
                "called; decorate each hook function with it"))
            return
        try:
            self._pm.register(obj, name=name)
        except Exception as exc:  # pluggy validation errors, duplicate names, ...
            self._fail(info, "registration", exc)
            return
        info.hooks = [impl_name for impl_name in _HOOK_NAMES if hasattr(obj, impl_name)]

    def _load_entry_points(self) -> None:
        seen: set[tuple[str, str]] = set()
        for ep in importlib.metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if (ep.name, ep.value) in seen:  # the same distribution found twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            dist_version = dist.version if dist is not None else None
            if ep.name in self._plugins:
                info = PluginInfo(name=f"{ep.name} ({dist_name})", distribution=dist_name,
                                  version=dist_version, builtin=False)
                self._plugins[info.name] = info
                self._fail(info, "registration", ValueError(f"a plugin named {ep.name!r} is already loaded"))
                continue
            try:
                obj = ep.load()
            except Exception as exc:
                info = PluginInfo(name=ep.name, distribution=dist_name, version=dist_version, builtin=False)
                self._plugins[ep.name] = info
                self._fail(info, "import", exc)
                continue
            self._add_plugin(ep.name, obj, distribution=dist_name, builtin=False, version=dist_version)

    def _impls(self, hook_name: str):
        return getattr(self._pm.hook, hook_name).get_hookimpls()

    def _collect(self) -> None:
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            for impl in self._impls(hook_name):
                info = self._plugins[impl.plugin_name]
                if info.status != "ok":
                    continue
                pending: list[Registration] = []

                def register(name, factory, *, description="", _kind=kind, _provider=impl.plugin_name,
                             _pending=pending, **metadata):
                    _check_registration(name, factory)
                    if any(r.name == name for r in _pending):
                        raise ValueError(f"{_kind[:-1]} {name!r} registered twice by the same plugin")
                    _pending.append(Registration(_kind, name, _provider, factory, description, metadata))

                try:
                    impl.function(register=register)
                except Exception as exc:
                    self._fail(info, f"{hook_name}", exc)
                    continue
                # Registrations land only when the whole hook call succeeded.
                self._registrations[kind].extend(pending)
                info.components.setdefault(kind, []).extend(r.name for r in pending)
        # A plugin that failed in a later hook keeps none of its earlier components either.
        self._drop_components({name for name, info in self._plugins.items() if info.status != "ok"})

    def _drop_components(self, plugins: set[str]) -> None:
        for kind in KINDS:
            self._registrations[kind] = [r for r in self._registrations[kind] if r.provider not in plugins]
        for name in plugins:
            self._plugins[name].components = {}

    # -- queries ---------------------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, built-ins first, including failed ones."""
        return sorted(self._plugins.values(), key=lambda p: (not p.builtin, p.name))

    def registrations(self, kind: str) -> list[Registration]:
        """Every registration of ``kind``, sorted by name then provider (duplicates included)."""
        kind = normalize_kind(kind)
        return sorted(self._registrations[kind], key=lambda r: (r.name, r.provider))

    def names(self, kind: str) -> list[str]:
        """The distinct component names of ``kind``."""
        return sorted({r.name for r in self.registrations(kind)})

    def get(self, kind: str, name: str) -> Registration:
        """Resolve ``name`` (or ``provider:name``) to exactly one registration of ``kind``.

        Raises
        ------
        UnknownComponentError
            When nothing matches; the message suggests close matches.
        AmbiguousComponentError
            When several providers registered ``name``; the message gives their qualified names.
        """
        kind = normalize_kind(kind)
        if not isinstance(name, str):
            raise UnknownComponentError(f"{kind[:-1]} names are strings, got {name!r}")
        regs = self._registrations[kind]
        matches = [r for r in regs if r.name == name]
        if not matches and ":" in name:
            provider, _, short = name.partition(":")
            matches = [r for r in regs if r.provider == provider and r.name == short]
        if not matches:  # a member of a family such as ``pyod:*``
            matches = [r.member(name) for r in regs
                       if r.family_prefix and name.startswith(r.family_prefix) and len(name) > len(r.family_prefix)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            qualified = ", ".join(repr(r.qualified_name) for r in matches)
            raise AmbiguousComponentError(
                f"{kind[:-1]} {name!r} is registered by several plugins ({', '.join(r.provider for r in matches)}); "
                f"use a qualified name: {qualified}."
            )
        # Suggest qualified names (provider:name) only when the user wrote one: for "dramma" the answer is
        # "drama", not also "drama2:drama".
        qualified_wanted = ":" in name
        known = sorted({r.name for r in regs} | ({r.qualified_name for r in regs} if qualified_wanted else set()))
        same_letters = [k for k in known if k.lower() == name.lower()]  # "L2", "PCA": too short for difflib
        close = list(dict.fromkeys(same_letters + difflib.get_close_matches(name, known, n=3, cutoff=0.6)))[:3]
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownComponentError(
            f"unknown {kind[:-1]} {name!r}.{hint} Known {kind}: {', '.join(self.names(kind)) or 'none'} "
            f"(`drama2 list {kind}` shows them all).{self._failed_plugins_note()}"
        )

    def _failed_plugins_note(self) -> str:
        """Why a name may be missing: the plugins that failed to load (their components never landed)."""
        failed = [info for info in self._plugins.values() if info.status != "ok"]
        if not failed:
            return ""
        reasons = "; ".join(f"{info.name}: {(info.error or 'failed').splitlines()[0][:120]}" for info in failed)
        return f" Plugins that failed to load, so registered nothing: {reasons} (`drama2 plugins` shows more)."

    def load(self, kind: str, name: str) -> Any:
        """The component object (class or function) registered under ``name``."""
        return self.get(kind, name).load()

    def add_commands(self, cli: Any) -> list[str]:
        """Let each plugin add commands to ``cli``; returns the plugins whose hook failed."""
        failed = []
        for impl in self._impls("register_commands"):
            info = self._plugins[impl.plugin_name]
            if info.status != "ok":
                continue
            before = dict(getattr(cli, "commands", {}))
            try:
                impl.function(cli=cli)
            except Exception as exc:
                if hasattr(cli, "commands"):  # the commands it added before failing go too
                    cli.commands.clear()
                    cli.commands.update(before)
                failed.append(impl.plugin_name)
                self._fail(info, "register_commands", exc)
        self._drop_components(set(failed))  # a plugin never half-lands: its components go with its commands
        return failed


_HOOK_NAMES = sorted(set(hookspecs.HOOK_KINDS) | {"register_commands"})


def _unknown_hooks(obj) -> list[str]:
    """Public names of ``obj`` marked ``@drama2.hookimpl`` that name no hook (pluggy would ignore them).

    Attributes are read statically (a property is never run); a hookimpl with ``specname`` names its hook
    itself, and private names (a re-exported hookimpl) are left alone.
    """
    import inspect

    marker = f"{hookspecs.PROJECT_NAME}_impl"  # the options @drama2.hookimpl stores on a function
    unknown = []
    for attr in dir(obj):
        if attr.startswith("_") or attr in _HOOK_NAMES:
            continue
        options = getattr(inspect.getattr_static(obj, attr, None), marker, None)
        if isinstance(options, dict) and not options.get("specname"):
            unknown.append(attr)
    return sorted(unknown)


def _unmarked_hooks(obj) -> list[str]:
    """Hook names that ``obj`` defines as plain functions, without ``@drama2.hookimpl``."""
    import inspect

    marker = f"{hookspecs.PROJECT_NAME}_impl"
    unmarked = []
    for attr in _HOOK_NAMES:
        function = inspect.getattr_static(obj, attr, None)
        if isinstance(function, staticmethod):
            function = function.__func__
        if callable(function) and not isinstance(getattr(function, marker, None), dict):
            unmarked.append(attr)
    return unmarked


_lock = threading.Lock()
_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = Registry()
        return _registry


def reset_registry() -> None:
    """Forget the process-wide registry so the next :func:`get_registry` reloads plugins."""
    global _registry
    with _lock:
        _registry = None

