"""What a household contains: room types, receptacle types, object types (ALFWorld's vocabulary).

Pure data. The generator samples layouts and tasks from these tables; the world rules
only need ``OPENABLE``, ``TOOL_OF_VERB`` and ``LAMP_KIND``.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- receptacles ---------------------------------------------------------------------

OPENABLE = frozenset({"cabinet", "drawer", "fridge", "microwave", "safe"})
"""Receptacle kinds that start closed and must be opened before taking from / putting into them."""

TOOL_OF_VERB = {"clean": "sinkbasin", "heat": "microwave", "cool": "fridge"}
"""The receptacle kind that ``clean|heat|cool O with R`` needs (as in ALFWorld)."""

LAMP_KIND = "desklamp"
"""Object kind that ``use`` turns on; look-at-object-in-light tasks need one."""

RoomLayout = dict[str, tuple[int, int]]
"""Receptacle kind -> (min count, max count) in one room type."""

ROOMS: dict[str, RoomLayout] = {
    "kitchen": {
        "cabinet": (1, 8), "coffeemachine": (0, 1), "countertop": (1, 3), "diningtable": (0, 1),
        "drawer": (0, 4), "fridge": (1, 1), "garbagecan": (1, 1), "microwave": (1, 1),
        "shelf": (0, 3), "sinkbasin": (1, 1), "stoveburner": (1, 4), "toaster": (0, 1),
    },
    "bathroom": {
        "bathtubbasin": (0, 1), "cabinet": (1, 4), "countertop": (1, 1), "drawer": (0, 4),
        "garbagecan": (1, 1), "handtowelholder": (0, 1), "shelf": (0, 2), "sinkbasin": (1, 2),
        "toilet": (1, 1), "towelholder": (0, 1),
    },
    "bedroom": {
        "armchair": (0, 1), "bed": (1, 1), "desk": (1, 1), "drawer": (1, 6), "dresser": (0, 1),
        "garbagecan": (1, 1), "laundryhamper": (0, 1), "safe": (0, 1), "shelf": (0, 4),
        "sidetable": (0, 2),
    },
    "livingroom": {
        "armchair": (0, 1), "cabinet": (0, 4), "coffeetable": (1, 1), "drawer": (0, 4),
        "dresser": (0, 1), "garbagecan": (1, 1), "shelf": (0, 4), "sidetable": (1, 2),
        "sofa": (1, 1), "tvstand": (0, 1),
    },
}

# --- objects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectKind:
    """An object type: where it can lie, which task verbs make sense for it, whether it can be carried."""

    name: str
    places: tuple[str, ...]
    verbs: frozenset[str] = frozenset()  # subset of {"clean", "heat", "cool", "look"}
    portable: bool = True


def _kinds(places: str, verbs: str, *names: str) -> list[ObjectKind]:
    return [ObjectKind(n, tuple(places.split()), frozenset(verbs.split())) for n in names]


_FOOD = "countertop diningtable fridge sinkbasin garbagecan"
_DISH = "countertop diningtable cabinet shelf sinkbasin fridge"
_SMALL = "desk sidetable drawer shelf dresser"

KITCHEN_OBJECTS = (
    _kinds(_FOOD, "clean heat cool", "apple", "potato", "tomato", "egg")
    + _kinds(_FOOD, "clean cool", "lettuce")
    + _kinds("countertop diningtable fridge", "heat cool", "bread")
    + _kinds(_DISH + " coffeemachine microwave", "clean heat cool", "mug", "cup")
    + _kinds(_DISH, "clean heat cool", "plate")
    + _kinds(_DISH, "clean cool", "bowl")
    + _kinds("stoveburner countertop cabinet sinkbasin", "clean cool", "pan", "pot")
    + _kinds("countertop diningtable drawer sinkbasin", "clean", "knife", "butterknife", "fork", "spoon", "spatula", "ladle")
    + _kinds("stoveburner countertop cabinet shelf", "", "kettle")
    + _kinds("countertop diningtable cabinet shelf drawer", "", "saltshaker", "peppershaker")
    + _kinds("countertop sinkbasin cabinet drawer", "clean", "dishsponge")
    + _kinds("countertop diningtable fridge cabinet shelf", "cool", "winebottle")
)
BATHROOM_OBJECTS = (
    _kinds("countertop sinkbasin bathtubbasin toilet cabinet garbagecan", "clean", "soapbar")
    + _kinds("countertop cabinet bathtubbasin sinkbasin drawer", "clean", "cloth")
    + _kinds("countertop cabinet toilet shelf garbagecan", "", "soapbottle", "spraybottle")
    + _kinds("toilet cabinet countertop drawer shelf garbagecan", "", "toiletpaper")
    + _kinds("countertop cabinet toilet shelf drawer", "", "candle")
    + _kinds("towelholder countertop cabinet", "", "towel")
    + _kinds("handtowelholder countertop", "", "handtowel")
)
ROOM_OBJECTS_SHARED = (  # bedroom and living room
    _kinds(_SMALL + " bed sofa coffeetable armchair", "look", "book", "cellphone", "creditcard")
    + _kinds(_SMALL, "look", "pen", "pencil", "alarmclock")
    + _kinds(_SMALL + " safe coffeetable sofa", "look", "keychain", "watch")
    + _kinds(_SMALL + " safe garbagecan", "look", "cd")
    + _kinds("bed sofa armchair", "look", "pillow")
    + _kinds("bed desk sofa coffeetable armchair", "look", "laptop")
    + _kinds("sofa coffeetable sidetable tvstand armchair dresser", "look", "remotecontrol")
    + _kinds("shelf coffeetable sidetable cabinet tvstand dresser desk", "look", "statue", "vase", "bowl", "mug")
    + _kinds("sofa coffeetable sidetable armchair garbagecan laundryhamper", "", "newspaper", "cloth")
)
LAMP = ObjectKind(LAMP_KIND, ("desk", "sidetable", "dresser"), frozenset(), portable=False)

OBJECTS_BY_ROOM: dict[str, tuple[ObjectKind, ...]] = {
    "kitchen": tuple(KITCHEN_OBJECTS),
    "bathroom": tuple(BATHROOM_OBJECTS),
    "bedroom": tuple(ROOM_OBJECTS_SHARED),
    "livingroom": tuple(ROOM_OBJECTS_SHARED),
}
