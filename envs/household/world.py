"""The household's true state and its transition rules, with ALFWorld's command grammar and feedback.

One ``World`` is one room: receptacles (some openable), objects lying in receptacles or held,
object states (clean / hot / cool), lamps that can be turned on, and the agent's location
(``None`` = the middle of the room, where every episode starts). ``World.step(command)``
applies one command and says whether it parsed, was legal and changed anything; an illegal
command changes nothing and answers ``"Nothing happens."`` as ALFWorld does.

Grammar (lower case, single spaces; names are ``"<kind> <number>"``)::

    go to R | open R | close R | take O from R | put O in/on R | clean O with R
    heat O with R | cool O with R | use LAMP | examine X | inventory | look

``put O in/on R`` is ALFWorld's canonical (admissible) form; ``put O in R``, ``put O on R``
and ``move O to R`` (ALFWorld >= 0.4) are accepted as synonyms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from hiergym.envs.household.catalog import LAMP_KIND, OPENABLE, TOOL_OF_VERB

NOTHING_HAPPENS = "Nothing happens."
INTRO_HEADER = "-= Welcome to TextWorld, ALFRED! =-"
MIDDLE_OF_ROOM = "You are in the middle of a room. Looking quickly around you, you see "
PUT_PREPOSITIONS = frozenset({"in/on", "in", "on"})
TREAT_VERBS = tuple(TOOL_OF_VERB)
STATE_FLAGS = ("clean", "hot", "cool")
_HEAT_COOL_OPPOSITE = {"hot": "cool", "cool": "hot"}
_STATE_OF_VERB = {"clean": "clean", "heat": "hot", "cool": "cool"}


class Command(NamedTuple):
    """A parsed command: ``verb`` plus up to two names (object or receptacle)."""

    verb: str
    first: str | None = None
    second: str | None = None


class Outcome(NamedTuple):
    """What one command did: the feedback text and the three validity facts."""

    feedback: str
    format_ok: bool
    admissible: bool
    effective: bool


def kind_of(name: str) -> str:
    """``"apple 1"`` -> ``"apple"``."""
    return name.rpartition(" ")[0]


def name_order(name: str) -> tuple[str, int]:
    """Sort key that puts ``apple 2`` before ``apple 10``."""
    kind, _, number = name.rpartition(" ")
    return kind, int(number) if number.isdigit() else -1


def _name(kind: str, number: str) -> str | None:
    return f"{kind} {number}" if number.isdigit() else None


def parse_command(command: str) -> Command | None:
    """Parse a normalised command string into a ``Command``; ``None`` when it is not in the grammar."""
    t = command.split()
    n = len(t)
    if n == 1 and t[0] in ("inventory", "look"):
        return Command(t[0])
    if n == 4 and t[0] == "go" and t[1] == "to":
        target = _name(t[2], t[3])
        return Command("go", target) if target else None
    if n == 3 and t[0] in ("open", "close", "examine", "use"):
        target = _name(t[1], t[2])
        return Command(t[0], target) if target else None
    if n != 6:
        return None
    a, b = _name(t[1], t[2]), _name(t[4], t[5])
    if a is None or b is None:
        return None
    link = (t[0], t[3])
    if link == ("take", "from"):
        return Command("take", a, b)
    if (t[0] == "put" and t[3] in PUT_PREPOSITIONS) or link == ("move", "to"):
        return Command("put", a, b)
    if t[0] in TREAT_VERBS and t[3] == "with":
        return Command(t[0], a, b)
    return None


def list_items(names: Iterable[str]) -> str:
    """ALFWorld's list phrasing: ``a x``, ``a x, and a y``, ``a x, a y, and a z``; ``nothing`` when empty."""
    items = [f"a {n}" for n in names]
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


class World:
    """Mutable true state of one household plus the rules that change it.

    ``receptacles`` maps receptacle name -> ``loc`` number (the order is the intro's order);
    ``placement`` maps object name -> the receptacle it starts in. Object iteration order is
    sorted by name and fixed, so ``anchor()`` is canonical without sorting on every step.
    """

    def __init__(self, receptacles: Mapping[str, int], placement: Mapping[str, str], *, fixed: Iterable[str] = ()):
        unknown = sorted({r for r in placement.values() if r not in receptacles})
        if unknown:
            raise ValueError(f"placement uses receptacles {unknown} that are not in the layout")
        self.loc_of: dict[str, int] = dict(receptacles)
        self.fixed = frozenset(fixed)  # objects that cannot be picked up (lamps)
        self.where: dict[str, str | None] = {o: placement[o] for o in sorted(placement, key=name_order)}
        self.contents: dict[str, set[str]] = {r: set() for r in self.loc_of}
        for o, r in self.where.items():
            self.contents[r].add(o)
        self.openable = frozenset(r for r in self.loc_of if kind_of(r) in OPENABLE)
        self.opened: set[str] = set()
        self.states: dict[str, set[str]] = {flag: set() for flag in STATE_FLAGS}
        self.flags: dict[str, tuple[str, ...]] = dict.fromkeys(self.where, ())  # same order as where
        self.kind: dict[str, str] = {n: kind_of(n) for n in (*self.loc_of, *self.where)}
        self.instances: dict[str, tuple[str, ...]] = {}
        for o in self.where:
            self.instances[self.kind[o]] = (*self.instances.get(self.kind[o], ()), o)
        self.lamps_on: set[str] = set()
        self.location: str | None = None
        self.holding: str | None = None
        self._go_commands = {r: f"go to {r}" for r in self.loc_of}

    # ----- queries ----------------------------------------------------------------------
    def visible(self, receptacle: str) -> bool:
        """Its contents can be seen and reached: it is open or has no door."""
        return receptacle not in self.openable or receptacle in self.opened

    def visible_objects(self) -> list[str]:
        """Objects the agent sees where it stands (sorted), not counting what it holds."""
        r = self.location
        if r is None or not self.visible(r):
            return []
        return sorted(self.contents[r], key=name_order)

    def anchor(self) -> tuple:
        """Canonical, hashable true state; independent of the order of the commands that led here."""
        objects = tuple(zip(self.where, self.where.values(), self.flags.values()))
        return (self.location, self.holding, objects, tuple(sorted(self.opened)), tuple(sorted(self.lamps_on)))

    def copy(self) -> World:
        """An independent copy (the solver's search expands copies)."""
        new = object.__new__(World)
        new.__dict__.update(self.__dict__)
        new.where = dict(self.where)
        new.contents = {r: set(c) for r, c in self.contents.items()}
        new.opened = set(self.opened)
        new.states = {flag: set(s) for flag, s in self.states.items()}
        new.flags = dict(self.flags)
        new.lamps_on = set(self.lamps_on)
        return new

    # ----- text ------------------------------------------------------------------------------
    def intro(self, goal: str) -> str:
        """ALFWorld's first observation: the welcome banner, the receptacles, the task."""
        return f"{INTRO_HEADER}\n\n{MIDDLE_OF_ROOM}{list_items(self.loc_of)}.\n\nYour task is to: {goal}"

    def describe(self, r: str) -> str:
        """What the agent sees at receptacle ``r`` (ALFWorld's phrasing)."""
        if r in self.openable:
            if r not in self.opened:
                return f"The {r} is closed."
            return f"The {r} is open. In it, you see {list_items(sorted(self.contents[r], key=name_order))}."
        return f"On the {r}, you see {list_items(sorted(self.contents[r], key=name_order))}."

    # ----- admissible commands -------------------------------------------------------------
    def admissible_commands(self) -> list[str]:
        """Every command that is legal now, sorted: ALFWorld's ``admissible_commands``."""
        here = self.location
        out = [c for r, c in self._go_commands.items() if r != here]
        out += ["inventory", "look"]
        held = self.holding
        if held is not None:
            out.append(f"examine {held}")
        if here is not None:
            out.append(f"examine {here}")
            out += self._commands_at(here, held)
        return sorted(out)

    def _commands_at(self, here: str, held: str | None) -> list[str]:
        out = []
        if here in self.openable:
            out.append(f"close {here}" if here in self.opened else f"open {here}")
        if held is not None:  # appliances work closed, as in ALFWorld ("heat egg 1 with microwave 1")
            kind = self.kind[here]
            out += [f"{verb} {held} with {here}" for verb, tool in TOOL_OF_VERB.items() if tool == kind]
        if not self.visible(here):
            return out
        for o in self.contents[here]:
            out.append(f"examine {o}")
            if held is None and o not in self.fixed:
                out.append(f"take {o} from {here}")
            if self.kind[o] == LAMP_KIND and o not in self.lamps_on:
                out.append(f"use {o}")
        if held is not None:
            out.append(f"put {held} in/on {here}")
        return out

    # ----- transitions -------------------------------------------------------------------
    def step(self, command: str) -> Outcome:
        """Apply one normalised command. Illegal: no change, ``"Nothing happens."``."""
        parsed = parse_command(command)
        if parsed is None:
            return Outcome(NOTHING_HAPPENS, False, False, False)
        result = _RULES[parsed.verb](self, parsed.first, parsed.second)
        if result is None:
            return Outcome(NOTHING_HAPPENS, True, False, False)
        feedback, effective = result
        return Outcome(feedback, True, True, effective)

    def _go(self, r: str, _: None) -> tuple[str, bool] | None:
        if r not in self.loc_of or r == self.location:
            return None
        self.location = r
        return f"You arrive at loc {self.loc_of[r]}. {self.describe(r)}", True

    def _open(self, r: str, _: None) -> tuple[str, bool] | None:
        if r != self.location or r not in self.openable or r in self.opened:
            return None
        self.opened.add(r)
        return f"You open the {r}. {self.describe(r)}", True

    def _close(self, r: str, _: None) -> tuple[str, bool] | None:
        if r != self.location or r not in self.opened:
            return None
        self.opened.discard(r)
        return f"You close the {r}.", True

    def _take(self, o: str, r: str) -> tuple[str, bool] | None:
        if self.holding is not None or r != self.location or not self.visible(r):
            return None
        if self.where.get(o, "") != r or o in self.fixed:
            return None
        self.contents[r].discard(o)
        self.where[o] = None
        self.holding = o
        return f"You pick up the {o} from the {r}.", True

    def _put(self, o: str, r: str) -> tuple[str, bool] | None:
        if self.holding != o or r != self.location or not self.visible(r):
            return None
        self.contents[r].add(o)
        self.where[o] = r
        self.holding = None
        return f"You put the {o} in/on the {r}.", True

    def _treat(self, verb: str, o: str, r: str) -> tuple[str, bool] | None:
        if self.holding != o or r != self.location or self.kind[r] != TOOL_OF_VERB[verb]:
            return None
        state = _STATE_OF_VERB[verb]
        effective = o not in self.states[state]
        self.states[state].add(o)
        opposite = _HEAT_COOL_OPPOSITE.get(state)
        if opposite is not None and o in self.states[opposite]:
            self.states[opposite].discard(o)  # heating undoes cooling and vice versa
            effective = True
        self.flags[o] = tuple(flag for flag in STATE_FLAGS if o in self.states[flag])
        return f"You {verb} the {o} using the {r}.", effective

    def _use(self, x: str, _: None) -> tuple[str, bool] | None:
        if self.kind.get(x) != LAMP_KIND or x in self.lamps_on or self.location is None:
            return None
        if self.where.get(x) != self.location or not self.visible(self.location):
            return None
        self.lamps_on.add(x)
        return f"You turn on the {x}.", True

    def _examine(self, x: str, _: None) -> tuple[str, bool] | None:
        if x == self.location:
            return self.describe(x), False
        if x != self.holding and x not in self.visible_objects():
            return None
        if self.kind[x] == LAMP_KIND:
            return f"The {x} is {'on' if x in self.lamps_on else 'off'}.", False
        adjectives = ", ".join(self.flags[x]) or "normal"
        return f"This is a {adjectives} {x}.", False

    def _inventory(self, _: None, __: None) -> tuple[str, bool]:
        if self.holding is None:
            return "You are not carrying anything.", False
        return f"You are carrying: a {self.holding}.", False

    def _look(self, _: None, __: None) -> tuple[str, bool]:
        if self.location is None:
            return f"{MIDDLE_OF_ROOM}nothing.", False
        return f"You are facing the {self.location}. Next to it, you see nothing.", False


def _treat_rule(verb: str) -> Callable[[World, str, str], tuple[str, bool] | None]:
    return lambda world, o, r: world._treat(verb, o, r)


_RULES: dict[str, Callable[[World, str | None, str | None], tuple[str, bool] | None]] = {
    "go": World._go,
    "open": World._open,
    "close": World._close,
    "take": World._take,
    "put": World._put,
    "use": World._use,
    "examine": World._examine,
    "inventory": World._inventory,
    "look": World._look,
    **{verb: _treat_rule(verb) for verb in TREAT_VERBS},
}
