"""The shop's page state machine: ONE implementation behind the gym env, the web site and its JSON API.

Pages: ``search`` -> ``results`` (10 a page, next/prev) -> ``item`` (options; description,
features and reviews views) -> ``bought``. Actions are ``search[query]`` (search page only)
and ``click[label]`` where ``label`` is one of ``admissible_clicks()``. An action that does
not parse or is not allowed here changes nothing and reports why in ``message``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from hiergym.envs.common import INVALID_ACTION_PENALTY, action_flags, normalize_command
from hiergym.envs.webshop.catalogue import Product
from hiergym.envs.webshop.instructions import Goal
from hiergym.envs.webshop.reward import DEFAULT_REWARD_RULE, RewardBreakdown, is_matching_product, purchase_reward
from hiergym.envs.webshop.store import ProductStore, QueryError, query_terms
from hiergym.info_keys import InfoKeys

PAGE_SEARCH, PAGE_RESULTS, PAGE_ITEM, PAGE_BOUGHT = "search", "results", "item", "bought"
VIEW_MAIN = "main"
DETAIL_VIEWS = ("description", "features", "reviews")
RESULTS_PER_PAGE = 10
BACK_TO_SEARCH = "back to search"
NEXT_PAGE = "next >"
PREV_PAGE = "< prev"
BUY_NOW = "buy now"
SEARCH_ACTION_HINT = "search[<query>]"
SEP = " [SEP] "

_ACTION_RE = re.compile(r"^\s*(search|click)\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"


def replace_surrogates(text: str) -> str:
    """``text`` with every surrogate code point as U+FFFD.

    A Python string may hold lone surrogates (e.g. from ``errors="surrogateescape"``), but UTF-8
    and JSON APIs cannot carry them; both WebShop envs apply this first, so an action means the
    same in-process and over HTTP.
    """
    return text if text.isascii() else _LONE_SURROGATE.sub(REPLACEMENT_CHARACTER, text)



@dataclass(frozen=True)
class Transition:
    """What one action did: reward, episode end, the three validity flags and a message."""

    reward: float
    terminated: bool
    truncated: bool
    format_ok: bool
    admissible: bool
    effective: bool
    message: str = ""


@dataclass
class ShopState:
    """One shopping episode: the goal, the current page and everything the pages show.

    ``max_steps`` (None = unlimited) truncates the episode after that many actions.
    """

    store: ProductStore
    goal: Goal
    max_steps: int | None = None
    invalid_action_penalty: float = INVALID_ACTION_PENALTY
    reward_rule: str = DEFAULT_REWARD_RULE
    page: str = PAGE_SEARCH
    query: str = ""
    results: list[str] = field(default_factory=list)
    result_page: int = 1
    item: Product | None = None
    view: str = VIEW_MAIN
    selected: dict[str, str] = field(default_factory=dict)
    steps: int = 0
    purchase: RewardBreakdown | None = None
    message: str = ""
    achieved: list[str] = field(default_factory=list)
    _page_products: list[Product] = field(default_factory=list, repr=False)
    _subgoal_specs: list[SubgoalSpec] = field(default_factory=list, repr=False)

    # --- what can be done here -------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the product has been bought (the episode terminates)."""
        return self.page == PAGE_BOUGHT

    @property
    def truncated(self) -> bool:
        """True when the step budget is used up without a purchase."""
        return self.max_steps is not None and self.steps >= self.max_steps and not self.done

    @property
    def num_result_pages(self) -> int:
        """Pages of search results (at least 1, so an empty search still has a page to show)."""
        return max(1, -(-len(self.results) // RESULTS_PER_PAGE))

    def page_products(self) -> list[Product]:
        """The products shown on the current results page."""
        return self._page_products

    def admissible_clicks(self) -> list[str]:
        """Labels that ``click[...]`` accepts on the current page, in page order."""
        if self.page == PAGE_RESULTS:
            labels = [BACK_TO_SEARCH]
            if self.result_page > 1:
                labels.append(PREV_PAGE)
            if self.result_page < self.num_result_pages:
                labels.append(NEXT_PAGE)
            return labels + [p.asin.lower() for p in self._page_products]
        if self.page == PAGE_ITEM and self.item is not None:
            if self.view != VIEW_MAIN:
                return [BACK_TO_SEARCH, PREV_PAGE]
            options = [v for values in self.item.options.values() for v in values]
            return [BACK_TO_SEARCH, PREV_PAGE, *options, *DETAIL_VIEWS, BUY_NOW]
        return []

    def admissible_actions(self) -> list[str]:
        """Commands legal now: ``search[<query>]`` on the search page, else ``click[label]`` for each label."""
        if self.page == PAGE_SEARCH:
            return [SEARCH_ACTION_HINT]
        return [f"click[{label}]" for label in self.admissible_clicks()]

    def anchor_state(self) -> tuple:
        """Canonical description of the true state: page, query, result page, item, view, selected options."""
        asin = self.item.asin if self.item is not None and self.page in (PAGE_ITEM, PAGE_BOUGHT) else ""
        return (self.page, self.query, self.result_page, asin, self.view, tuple(sorted(self.selected.items())))

    # --- acting ------------------------------------------------------------------------
    def step(self, action: object) -> Transition:
        """Apply one ``search[...]``/``click[...]`` command; never raises on bad input."""
        if self.done:
            return self._invalid("The episode is over: the item was bought.", format_ok=True)
        self.steps += 1
        text = action.decode("utf-8", errors="replace") if isinstance(action, bytes) else action
        if isinstance(text, str):
            text = replace_surrogates(text)
        match = _ACTION_RE.match(text) if isinstance(text, str) else None
        if match is None:
            return self._invalid("Unknown command. Use search[query] or click[label].", format_ok=False)
        verb, arg = match.group(1).lower(), match.group(2)
        if verb == "search":
            return self._search(arg)
        return self._click(normalize_command(arg) or "")

    def _transition(self, reward: float = 0.0, *, effective: bool, message: str = "") -> Transition:
        self.message = message
        self._update_achieved()
        return Transition(reward, self.done, self.truncated, True, True, effective, message)

    def _invalid(self, message: str, *, format_ok: bool) -> Transition:
        self.message = message
        return Transition(self.invalid_action_penalty, self.done, self.truncated, format_ok, False, False, message)

    def _search(self, query: str) -> Transition:
        if self.page != PAGE_SEARCH:
            return self._invalid(f"You can only search on the search page; use click[{BACK_TO_SEARCH}].", format_ok=True)
        try:
            terms = query_terms(query)
        except QueryError as e:
            return self._invalid(f"Invalid query: {e}.", format_ok=True)
        if not terms:
            return self._invalid("The query has no words; type what you are looking for.", format_ok=True)
        self.query = " ".join(terms)
        self.results = self.store.search(self.query)
        self.page = PAGE_RESULTS
        self._show_results_page(1)
        return self._transition(effective=True)

    def _show_results_page(self, number: int) -> None:
        self.result_page = number
        start = (number - 1) * RESULTS_PER_PAGE
        asins = self.results[start : start + RESULTS_PER_PAGE]
        self._page_products = self.store.get_many(asins)

    def _click(self, label: str) -> Transition:
        clicks = self.admissible_clicks()
        if label not in clicks:
            shown = ", ".join(clicks) if clicks else f"nothing; use {SEARCH_ACTION_HINT}"
            return self._invalid(f"Nothing happens: there is no '{label[:60]}' to click here. Clickable: {shown}.", format_ok=True)
        handler = self._CLICK_HANDLERS.get(label)
        if handler is not None:
            return handler(self)
        if self.page == PAGE_RESULTS:
            return self._open_item(label)
        return self._select_option(label)

    def _back_to_search(self) -> Transition:
        self.page, self.query, self.results, self._page_products = PAGE_SEARCH, "", [], []
        self.result_page, self.item, self.view, self.selected = 1, None, VIEW_MAIN, {}
        return self._transition(effective=True)

    def _next(self) -> Transition:
        self._show_results_page(self.result_page + 1)
        return self._transition(effective=True)

    def _prev(self) -> Transition:
        if self.page == PAGE_ITEM and self.view != VIEW_MAIN:
            self.view = VIEW_MAIN
        elif self.page == PAGE_ITEM:
            self.page, self.item, self.selected = PAGE_RESULTS, None, {}
        else:
            self._show_results_page(self.result_page - 1)
        return self._transition(effective=True)

    def _open_item(self, label: str) -> Transition:
        self.item = next(p for p in self._page_products if p.asin.lower() == label)
        self.page, self.view, self.selected = PAGE_ITEM, VIEW_MAIN, {}
        return self._transition(effective=True)

    def _select_option(self, label: str) -> Transition:
        if label in DETAIL_VIEWS:
            self.view = label
            return self._transition(effective=True)
        assert self.item is not None  # labels come from admissible_clicks() of an item page
        kind = next(k for k, values in self.item.options.items() if label in values)
        changed = self.selected.get(kind) != label
        self.selected[kind] = label
        return self._transition(effective=changed, message="" if changed else f"'{label}' is already selected.")

    def _buy(self) -> Transition:
        assert self.item is not None
        if self.reward_rule == "webshop":
            from hiergym.envs.webshop.reward_webshop import webshop_purchase_reward

            target = self.store.get(self.goal.asin)
            self.purchase = webshop_purchase_reward(self.goal, self.item, self.selected, target.title if target else "")
        else:
            self.purchase = purchase_reward(self.goal, self.item, self.selected)
        self.page = PAGE_BOUGHT
        return self._transition(self.purchase.reward, effective=True)

    _CLICK_HANDLERS: ClassVar[dict[str, Callable[[ShopState], Transition]]] = {
        BACK_TO_SEARCH: _back_to_search,
        NEXT_PAGE: _next,
        PREV_PAGE: _prev,
        BUY_NOW: _buy,
    }

    # --- subgoals ----------------------------------------------------------------------
    def _update_achieved(self) -> None:
        if not self._subgoal_specs:
            self._subgoal_specs = subgoal_specs(self.goal)
        for sid, _, check in self._subgoal_specs:
            if sid not in self.achieved and check(self):
                self.achieved.append(sid)

    # --- the text view -----------------------------------------------------------------
    def text_observation(self) -> str:
        """The compact WebShop-like observation: page elements separated by ``[SEP]``."""
        head = ["Instruction:", self.goal.instruction]
        if self.message:
            head.insert(0, self.message)
        return SEP.join(head + _TEXT_VIEWS[self.page](self))


def _results_text(s: ShopState) -> list[str]:
    parts = ["Back to Search", f"Page {s.result_page} of {s.num_result_pages} (Total results: {len(s.results)})"]
    parts += ["< Prev"] if s.result_page > 1 else []
    parts += ["Next >"] if s.result_page < s.num_result_pages else []
    for p in s.page_products():
        parts += [p.asin, p.title, f"${p.price:.2f}"]
    return parts


def _item_text(s: ShopState) -> list[str]:
    item = s.item
    assert item is not None
    parts = ["Back to Search", "< Prev"]
    if s.view == "description":
        return parts + [item.description]
    if s.view == "features":
        return parts + list(item.features)
    if s.view == "reviews":
        return parts + list(item.reviews)
    for kind, values in item.options.items():
        parts += [kind] + list(values)
    if s.selected:
        parts.append("Selected: " + ", ".join(f"{k} {v}" for k, v in s.selected.items()))
    return parts + [item.title, f"Price: ${item.price:.2f}", f"Rating: {item.rating:.1f}", "Description", "Features", "Reviews", "Buy Now"]


def _bought_text(s: ShopState) -> list[str]:
    assert s.item is not None and s.purchase is not None
    chosen = ", ".join(f"{k} {v}" for k, v in s.selected.items()) or "no options"
    return ["Thank you for shopping with us!", f"Purchased: {s.item.title} ({chosen})", f"Reward: {s.purchase.reward:.2f}"]


_TEXT_VIEWS: dict[str, Callable[[ShopState], list[str]]] = {
    PAGE_SEARCH: lambda s: ["Search"],
    PAGE_RESULTS: _results_text,
    PAGE_ITEM: _item_text,
    PAGE_BOUGHT: _bought_text,
}


# --- subgoals: (id, text, predicate over the state) ------------------------------------------
SubgoalSpec = tuple[str, str, Callable[[ShopState], bool]]


def _item_matches(s: ShopState) -> bool:
    return s.item is not None and s.page in (PAGE_ITEM, PAGE_BOUGHT) and is_matching_product(s.goal, s.item)


def subgoal_specs(goal: Goal) -> list[SubgoalSpec]:
    """The task's subgoals in intended order: search, open a matching item, select each option, buy."""
    specs: list[SubgoalSpec] = [
        (
            "search",
            f"search for {goal.product_type} and see a matching result",
            lambda s: s.page == PAGE_RESULTS and any(is_matching_product(s.goal, p) for p in s.page_products()),
        ),
        ("open_item", f"open a {goal.product_type} that has everything asked for", _item_matches),
    ]
    for kind, value in goal.options:
        specs.append(
            (
                f"option:{kind}",
                f"select {kind} {value}",
                lambda s, kind=kind, value=value: _item_matches(s) and s.selected.get(kind) == value,
            )
        )
    specs.append(("buy", "buy it", lambda s: s.purchase is not None and s.purchase.won))
    return specs


def state_info(state: ShopState, transition: Transition | None = None) -> dict:
    """The ``info`` dict both the env and the JSON API report (all but the Subgoal objects)."""
    info = {
        InfoKeys.ADMISSIBLE_ACTIONS: state.admissible_actions(),
        InfoKeys.WON: bool(state.purchase is not None and state.purchase.won),
        InfoKeys.ANCHOR_STATE: state.anchor_state(),
        InfoKeys.SUBGOALS_ACHIEVED: list(state.achieved),
        InfoKeys.TASK: state.goal.instruction,
    }
    if transition is not None:
        info.update(
            action_flags(format_ok=transition.format_ok, admissible=transition.admissible, effective=transition.effective)
        )
    return info
