"""The port contract: what each MicroPython port really accepts.

One TOML file per port (``ports/<port>.toml``), each entry read from the
port's C source in micropython/micropython and citing file, function and
commit. The virtual board's fakes check every call against it (``_vb.bind``),
and ``tests/sim/test_ports.py`` checks the firmware's hardware calls against the
port of every board that runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

DIR = Path(__file__).resolve().parent / "ports"
KINDS = ("class", "function", "method", "const", "absent")


class ContractError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str
    pos: tuple[str, ...]
    min: int
    kw: tuple[str, ...]
    varargs: bool
    value: object
    source: str
    note: str
    bad_kw: str = "TypeError"  # what an unknown keyword raises (the arg parser's TypeError, mostly)

    def accepts_keyword(self, k: str) -> bool:
        return k in self.kw

    def accepts_positionals(self, n: int) -> bool:
        return self.varargs or n <= len(self.pos)


@dataclass(frozen=True)
class Contract:
    port: str
    commit: str
    entries: dict[str, Entry]
    behaviour: dict[str, str]

    def get(self, name: str) -> Entry | None:
        e = self.entries.get(name)
        if e is None:
            # a whole module marked absent ("esp32" on rp2) covers its names
            mod = self.entries.get(name.split(".")[0])
            if mod is not None and mod.kind == "absent":
                return mod
        return e

    def compact(self) -> dict:
        """What the virtual board reads: name -> [kind, pos, min, kw, varargs, value]."""
        return {n: [e.kind, list(e.pos), e.min, list(e.kw), e.varargs, e.value] for n, e in self.entries.items()}


def names() -> list[str]:
    return sorted(p.stem for p in DIR.glob("*.toml"))


@lru_cache(maxsize=None)
def load(port: str) -> Contract:
    path = DIR / f"{port}.toml"
    if not path.is_file():
        raise ContractError(f"no port contract for {port!r} ({path}); have: {', '.join(names())}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ContractError(f"{path}: {e}") from None
    commit = str(data.get("commit", ""))
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ContractError(f"{path}: commit must be the full 40-hex MicroPython commit the entries were read at")
    base = data.get("base")
    entries = dict(load(base).entries) if base else {}
    for name, d in (data.get("api") or {}).items():
        where = f"{path}: api.{name!r}"
        kind = d.get("kind")
        if kind not in KINDS:
            raise ContractError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if not str(d.get("source", "")).strip():
            raise ContractError(f"{where}: every entry cites its source (file: function)")
        pos = tuple(d.get("pos", ()))
        kw = tuple(d.get("kw", ()))
        mn = int(d.get("min", 0))
        if kind in ("class", "function", "method") and mn > len(pos):
            raise ContractError(f"{where}: min {mn} is more than its {len(pos)} positional parameters")
        if kind == "const" and not isinstance(d.get("value"), int):
            raise ContractError(f"{where}: a const needs its integer value")
        entries[name] = Entry(name, kind, pos, mn, kw, bool(d.get("varargs", False)), d.get("value"),
                              str(d["source"]), str(d.get("note", "")), str(d.get("bad_kw", "TypeError")))
    behaviour = dict(load(base).behaviour) if base else {}
    behaviour.update({k: str(v) for k, v in (data.get("behaviour") or {}).items()})
    return Contract(str(data.get("port", port)), commit, entries, behaviour)


# machine.reset_cause() values in words, as the bench and the simulator print
# them; the values are each port's machine.*_RESET constants (their entries
# above cite the C). esp32 has all five; rp2 only PWRON_RESET and WDT_RESET.
_RESET_WORDS = {"PWRON_RESET": "power-on", "HARD_RESET": "hard reset", "WDT_RESET": "watchdog",
                "DEEPSLEEP_RESET": "deep-sleep wake", "SOFT_RESET": "soft reset"}


def reset_causes(port: str = "esp32") -> dict[int, str]:
    """reset_cause() value -> words, for the port's constants."""
    c = load(port)
    out = {}
    for name, words in _RESET_WORDS.items():
        e = c.entries.get(f"machine.{name}")
        if e is not None and e.kind == "const":
            out[int(e.value)] = words  # type: ignore[call-overload]
    return out


def reset_code(name: str, port: str = "esp32") -> int:
    """The value of machine.<name> (e.g. "SOFT_RESET") on the port."""
    e = load(port).entries[f"machine.{name}"]
    if e.kind != "const":
        raise ContractError(f"machine.{name} is {e.kind} on {port}")
    return int(e.value)  # type: ignore[call-overload]


# ------------------------------------------------------------ the firmware scan
# Every hardware call in the firmware, checked against the contract of every
# board's port that runs it. A call under `if ...PORT == "esp32":` (or !=, in,
# not in; or sys.platform) runs only on those ports; one inside
# `try: ... except AttributeError:` may name what a port lacks.

import ast  # noqa: E402

# receivers the firmware keeps hardware objects in, by their source text
RECEIVERS = {"self.pin": "machine.Pin", "self.ble": "bluetooth.BLE", "self._adc": "machine.ADC",
             "adc": "machine.ADC", "machine.RTC()": "machine.RTC"}
MODULES = ("machine", "bluetooth", "esp32", "time")


@dataclass(frozen=True)
class Call:
    file: str
    line: int
    name: str  # "machine.Pin.irq"
    npos: int
    keywords: tuple[str, ...]
    star: bool  # *args or **kwargs: not checkable
    ports: frozenset[str] | None  # None: every port
    excused: bool  # inside try/except AttributeError
    is_call: bool = True

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _ports_of(test: ast.expr) -> tuple[frozenset[str], bool] | None:
    """For `X.PORT == "a"` / `!=` / `in (...)` / `not in` (and sys.platform):
    (the ports named, True if the body runs on them) or None."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left = ast.unparse(test.left)
    if not (left.endswith(".PORT") or left == "sys.platform"):
        return None
    right = test.comparators[0]
    try:
        value = ast.literal_eval(right)
    except ValueError:
        return None
    names = frozenset([value] if isinstance(value, str) else value)
    op = test.ops[0]
    if isinstance(op, (ast.Eq, ast.In)):
        return names, True
    if isinstance(op, (ast.NotEq, ast.NotIn)):
        return names, False
    return None


def scan_firmware(fw_dir: Path) -> list[Call]:
    calls: list[Call] = []
    for path in sorted(Path(fw_dir).glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        imported = {}  # local name -> "time.ticks_ms" (from time import ticks_ms)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in MODULES:
                for a in node.names:
                    imported[a.asname or a.name] = f"{node.module}.{a.name}"
        _walk(tree, path.name, imported, calls, None, False)
    return calls


def _hw_name(func: ast.expr, imported: dict) -> str | None:
    if isinstance(func, ast.Name):
        return imported.get(func.id)
    if isinstance(func, ast.Attribute):
        recv = ast.unparse(func.value)
        if recv in RECEIVERS:
            return f"{RECEIVERS[recv]}.{func.attr}"
        full = ast.unparse(func)
        if full.split(".")[0] in MODULES:
            return full
    return None


def _walk(node, file, imported, calls, ports, excused):
    if isinstance(node, ast.If):
        cond = _ports_of(node.test)
        if cond is not None:
            names, positive = cond
            allp = set(names_all())
            body = names if positive else frozenset(allp - names)
            other = frozenset(allp - body)
            for n in node.body:
                _walk(n, file, imported, calls, body if ports is None else ports & body, excused)
            for n in node.orelse:
                _walk(n, file, imported, calls, other if ports is None else ports & other, excused)
            return
    if isinstance(node, ast.Try):
        catches = any(h.type is not None and "AttributeError" in ast.unparse(h.type) for h in node.handlers)
        for n in node.body:
            _walk(n, file, imported, calls, ports, excused or catches)
        for n in node.handlers + node.orelse + node.finalbody:
            _walk(n, file, imported, calls, ports, excused)
        return
    if isinstance(node, ast.Call):
        name = _hw_name(node.func, imported)
        if name is not None:
            star = any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords)
            calls.append(Call(file, node.lineno, name, len(node.args), tuple(k.arg for k in node.keywords if k.arg),
                              star, ports, excused))
    elif isinstance(node, ast.Attribute) and not isinstance(getattr(node, "ctx", None), ast.Store):
        full = ast.unparse(node)
        head = full.split(".")[0]
        if head in MODULES and full.count(".") >= 1 and full.split(".")[-1].isupper():
            calls.append(Call(file, node.lineno, full, 0, (), False, ports, excused, is_call=False))
    for child in ast.iter_child_nodes(node):
        _walk(child, file, imported, calls, ports, excused)


def names_all() -> list[str]:
    """Every port a guard can name: those with a contract, and zephyr."""
    return sorted(set(names()) | {"zephyr"})


def check_call(call: Call, contract: Contract) -> str | None:
    """Why the port would refuse this call, or None."""
    e = contract.get(call.name)
    if e is None or e.kind == "absent":
        if call.excused:
            return None
        return f"{call.where()}: {call.name} does not exist on the {contract.port} port" + (
            f" ({e.source})" if e else " (not in its contract)")
    if not call.is_call:
        return None
    if call.star or e.kind == "const":
        return None
    if call.npos > len(e.pos) and not e.varargs:
        return (f"{call.where()}: {call.name} takes at most {len(e.pos)} positional arguments on "
                f"{contract.port}, the firmware passes {call.npos} ({e.source})")
    if "**" not in e.kw:
        for k in call.keywords:
            if k not in e.kw or (k in e.pos and e.pos.index(k) < call.npos):
                return (f"{call.where()}: {call.name} has no keyword {k!r} on {contract.port}: it takes "
                        f"{', '.join(e.kw) or 'no keywords'} ({e.source})")
    given = set(e.pos[:call.npos]) | set(call.keywords)
    missing = [p for p in e.pos[:e.min] if p not in given]
    if missing:
        return f"{call.where()}: {call.name} needs {', '.join(missing)} on {contract.port} ({e.source})"
    return None
