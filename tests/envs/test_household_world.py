"""Household world rules: grammar, ALFWorld feedback, admissibility, invalid commands, anchors."""

import itertools

import pytest

from hiergym.envs.household.world import NOTHING_HAPPENS, Command, World, list_items, parse_command

RECEPTACLES = {"cabinet 1": 4, "cabinet 2": 2, "countertop 1": 1, "desk 1": 7, "fridge 1": 3, "microwave 1": 6, "sinkbasin 1": 5}
PLACEMENT = {"apple 1": "countertop 1", "mug 1": "cabinet 1", "egg 1": "fridge 1", "desklamp 1": "desk 1", "book 1": "desk 1"}


def make_world() -> World:
    return World(RECEPTACLES, PLACEMENT, fixed={"desklamp 1"})


def run(world: World, commands: list[str]) -> list[str]:
    out = []
    for c in commands:
        outcome = world.step(c)
        assert outcome.admissible, f"{c!r} was refused: {outcome.feedback}"
        out.append(outcome.feedback)
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("go to cabinet 1", Command("go", "cabinet 1")),
        ("take apple 1 from countertop 1", Command("take", "apple 1", "countertop 1")),
        ("put apple 1 in/on fridge 1", Command("put", "apple 1", "fridge 1")),
        ("put apple 1 in fridge 1", Command("put", "apple 1", "fridge 1")),
        ("put apple 1 on fridge 1", Command("put", "apple 1", "fridge 1")),
        ("move apple 1 to fridge 1", Command("put", "apple 1", "fridge 1")),
        ("heat apple 1 with microwave 1", Command("heat", "apple 1", "microwave 1")),
        ("use desklamp 1", Command("use", "desklamp 1")),
        ("inventory", Command("inventory")),
        ("look", Command("look")),
    ],
)
def test_grammar_and_synonyms(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text", ["", "go", "go to cabinet", "go to cabinet one", "take apple 1", "put apple 1 under fridge 1", "move apple 1 in fridge 1", "fly", "heat apple 1 in microwave 1"]
)
def test_outside_grammar_is_not_parsed(text):
    assert parse_command(text) is None


def test_list_phrasing_is_alfworlds():
    assert list_items([]) == "nothing"
    assert list_items(["apple 1"]) == "a apple 1"
    assert list_items(["apple 1", "egg 2"]) == "a apple 1, and a egg 2"
    assert list_items(["apple 1", "egg 2", "mug 1"]) == "a apple 1, a egg 2, and a mug 1"


def test_feedback_texts_follow_alfworld():
    w = make_world()
    assert w.intro("put a clean mug in coffeemachine.").startswith(
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, you see a cabinet 1, a cabinet 2,"
    )
    assert w.intro("x").endswith("and a sinkbasin 1.\n\nYour task is to: x")
    feedback = run(
        w,
        [
            "go to countertop 1", "take apple 1 from countertop 1", "inventory", "go to fridge 1", "open fridge 1",
            "cool apple 1 with fridge 1", "go to microwave 1", "heat apple 1 with microwave 1", "go to sinkbasin 1",
            "clean apple 1 with sinkbasin 1", "examine apple 1", "put apple 1 in/on sinkbasin 1", "go to desk 1",
            "use desklamp 1", "look", "go to fridge 1", "close fridge 1",
        ],
    )
    assert feedback == [
        "You arrive at loc 1. On the countertop 1, you see a apple 1.",
        "You pick up the apple 1 from the countertop 1.",
        "You are carrying: a apple 1.",
        "You arrive at loc 3. The fridge 1 is closed.",
        "You open the fridge 1. The fridge 1 is open. In it, you see a egg 1.",
        "You cool the apple 1 using the fridge 1.",
        "You arrive at loc 6. The microwave 1 is closed.",
        "You heat the apple 1 using the microwave 1.",
        "You arrive at loc 5. On the sinkbasin 1, you see nothing.",
        "You clean the apple 1 using the sinkbasin 1.",
        "This is a clean, hot apple 1.",
        "You put the apple 1 in/on the sinkbasin 1.",
        "You arrive at loc 7. On the desk 1, you see a book 1, and a desklamp 1.",
        "You turn on the desklamp 1.",
        "You are facing the desk 1. Next to it, you see nothing.",
        "You arrive at loc 3. The fridge 1 is open. In it, you see a egg 1.",
        "You close the fridge 1.",
    ]
    assert w.states["hot"] == {"apple 1"} and w.states["cool"] == set(), "heating undoes cooling"


@pytest.mark.parametrize(
    ("setup", "command"),
    [
        ([], "take apple 1 from countertop 1"),  # not there yet
        (["go to cabinet 1"], "take mug 1 from cabinet 1"),  # closed
        (["go to countertop 1"], "take mug 1 from countertop 1"),  # wrong receptacle
        (["go to countertop 1", "take apple 1 from countertop 1", "go to desk 1"], "take book 1 from desk 1"),  # hand full
        (["go to desk 1"], "take desklamp 1 from desk 1"),  # fixed in place
        (["go to countertop 1"], "go to countertop 1"),  # already there
        (["go to fridge 1", "open fridge 1"], "open fridge 1"),
        (["go to countertop 1"], "open countertop 1"),
        (["go to countertop 1", "take apple 1 from countertop 1"], "clean apple 1 with countertop 1"),
        (["go to sinkbasin 1"], "clean apple 1 with sinkbasin 1"),  # not holding it
        (["go to cabinet 1"], "put apple 1 in/on cabinet 1"),
        (["go to countertop 1"], "use desklamp 1"),  # lamp is elsewhere
        (["go to desk 1", "use desklamp 1"], "use desklamp 1"),  # already on
        ([], "examine apple 1"),
        ([], "go to garage 1"),
    ],
)
def test_illegal_command_changes_nothing(setup, command):
    w = make_world()
    run(w, setup)
    before = w.anchor()
    outcome = w.step(command)
    assert outcome == (NOTHING_HAPPENS, True, False, False)
    assert w.anchor() == before


def _all_grammar_commands(world: World) -> list[str]:
    names = list(world.loc_of) + list(world.where)
    out = ["inventory", "look"]
    for x in names:
        out += [f"go to {x}", f"open {x}", f"close {x}", f"examine {x}", f"use {x}"]
    for a, b in itertools.product(names, names):
        out += [f"take {a} from {b}", f"put {a} in/on {b}"] + [f"{v} {a} with {b}" for v in ("clean", "heat", "cool")]
    return out


def test_admissible_commands_are_exactly_the_legal_ones():
    """Every grammar command over every name, in many states: legal iff listed as admissible."""
    w = make_world()
    walk = [
        "go to cabinet 1", "open cabinet 1", "take mug 1 from cabinet 1", "go to microwave 1", "heat mug 1 with microwave 1",
        "go to desk 1", "use desklamp 1", "put mug 1 in/on desk 1", "take book 1 from desk 1", "go to fridge 1",
    ]
    for command in [None, *walk]:
        if command:
            run(w, [command])
        admissible = set(w.admissible_commands())
        for c in _all_grammar_commands(w):
            legal = w.copy().step(c).admissible
            assert legal == (c in admissible), f"{c!r}: legal={legal} but admissible={c in admissible} after {command!r}"


def test_anchor_is_independent_of_command_order():
    a, b = make_world(), make_world()
    run(a, ["go to cabinet 1", "open cabinet 1", "go to fridge 1", "open fridge 1", "go to countertop 1",
            "take apple 1 from countertop 1", "go to sinkbasin 1", "clean apple 1 with sinkbasin 1", "go to cabinet 2"])
    run(b, ["go to countertop 1", "take apple 1 from countertop 1", "go to fridge 1", "open fridge 1",
            "go to sinkbasin 1", "clean apple 1 with sinkbasin 1", "go to cabinet 1", "open cabinet 1", "go to cabinet 2"])
    assert a.anchor() == b.anchor()
    assert hash(a.anchor()) == hash(b.anchor())
    run(b, ["open cabinet 2"])
    assert a.anchor() != b.anchor()


def test_anchor_tells_object_states_apart():
    clean, cool = make_world(), make_world()
    prefix = ["go to countertop 1", "take apple 1 from countertop 1"]
    run(clean, prefix + ["go to sinkbasin 1", "clean apple 1 with sinkbasin 1", "go to fridge 1"])
    run(cool, prefix + ["go to fridge 1", "cool apple 1 with fridge 1"])
    assert clean.anchor() != cool.anchor()


def test_copy_is_independent():
    w = make_world()
    c = w.copy()
    run(c, ["go to countertop 1", "take apple 1 from countertop 1"])
    assert w.where["apple 1"] == "countertop 1" and w.holding is None and "apple 1" in w.contents["countertop 1"]


def test_placement_in_unknown_receptacle_is_rejected():
    with pytest.raises(ValueError, match="garage 1"):
        World(RECEPTACLES, {"apple 1": "garage 1"})


def test_contents_are_listed_in_natural_number_order():
    w = World({"countertop 1": 1}, {f"apple {i}": "countertop 1" for i in (10, 2, 1)})
    assert w.describe("countertop 1") == "On the countertop 1, you see a apple 1, a apple 2, and a apple 10."
