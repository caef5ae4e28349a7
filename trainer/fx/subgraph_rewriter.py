"""``replace_pattern``: find every occurrence of one traced function's graph in a ``GraphModule`` and replace it by
another function's graph (``torch.fx.subgraph_rewriter``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from trainer.fx._symbolic_trace import symbolic_trace
from trainer.fx.graph import Graph
from trainer.fx.graph_module import GraphModule
from trainer.fx.node import Node, map_arg


class Match(NamedTuple):
    anchor: Node  # the pattern's node that produces its output
    nodes_map: dict[Node, Node]  # pattern node -> matched node of the module's graph


def _pattern_graph(pattern: Callable | Graph | GraphModule) -> Graph:
    if isinstance(pattern, Graph):
        return pattern
    if isinstance(pattern, GraphModule):
        return pattern.graph
    return symbolic_trace(pattern).graph


class _Matcher:
    """Matches a pattern graph (one output value) against the graph, from an anchor upwards through the inputs."""

    def __init__(self, pattern: Graph):
        self.placeholders = [n for n in pattern.nodes if n.op == "placeholder"]
        output = next(n for n in pattern.nodes if n.op == "output")
        if not isinstance(output.args[0], Node):
            raise ValueError("replace_pattern supports patterns that return a single value")
        self.pattern_anchor = output.args[0]

    def match(self, anchor: Node) -> dict[Node, Node] | None:
        nodes_map: dict[Node, Node] = {}
        if not self._match_nodes(self.pattern_anchor, anchor, nodes_map):
            return None
        # the inner nodes of a match may only be read inside it, else removing them would break the graph
        inner = {g for p, g in nodes_map.items() if p.op != "placeholder" and p is not self.pattern_anchor}
        matched = set(nodes_map.values())
        if any(user not in matched for g in inner for user in g.users):
            return None
        return nodes_map

    def _match_nodes(self, p: Node, g: Node, nodes_map: dict[Node, Node]) -> bool:
        if p in nodes_map:
            return nodes_map[p] is g
        if p.op == "placeholder":
            if g in nodes_map.values():
                return False
            nodes_map[p] = g
            return True
        if p.op != g.op or p.target != g.target or set(p.kwargs) != set(g.kwargs):
            return False
        nodes_map[p] = g
        if self._match_args(p.args, g.args, nodes_map) and all(
                self._match_args(p.kwargs[k], g.kwargs[k], nodes_map) for k in p.kwargs):
            return True
        del nodes_map[p]
        return False

    def _match_args(self, p: Any, g: Any, nodes_map: dict[Node, Node]) -> bool:
        if isinstance(p, Node):
            return isinstance(g, Node) and self._match_nodes(p, g, nodes_map)
        if isinstance(p, list | tuple):
            return type(p) is type(g) and len(p) == len(g) and all(
                self._match_args(a, b, nodes_map) for a, b in zip(p, g, strict=True))
        return not isinstance(g, Node) and p == g


def replace_pattern(gm: GraphModule, pattern: Callable | Graph | GraphModule,
                    replacement: Callable | Graph | GraphModule) -> list[Match]:
    """Replace each non-overlapping occurrence of ``pattern`` in ``gm`` by ``replacement`` (both functions, or
    graphs, taking the same inputs); recompiles ``gm`` and returns the matches."""
    pattern_graph = _pattern_graph(pattern)
    replacement_graph = _pattern_graph(replacement)
    matcher = _Matcher(pattern_graph)
    replacement_inputs = [n for n in replacement_graph.nodes if n.op == "placeholder"]
    if len(replacement_inputs) != len(matcher.placeholders):
        raise ValueError(f"replacement takes {len(replacement_inputs)} inputs but the pattern has "
                         f"{len(matcher.placeholders)}")
    graph = gm.graph
    matches: list[Match] = []
    taken: set[Node] = set()
    for anchor in graph.nodes:
        if anchor.op in ("placeholder", "output") or anchor in taken:
            continue
        nodes_map = matcher.match(anchor)
        if nodes_map is None:
            continue
        inner = {g for p, g in nodes_map.items() if p.op != "placeholder"}
        if inner & taken:
            continue
        taken |= inner
        matches.append(Match(matcher.pattern_anchor, nodes_map))

    replaced: dict[Node, Any] = {}  # anchor of an earlier match -> what replaced it (a later match may read it)
    for match in matches:
        anchor = match.nodes_map[match.anchor]
        val_map = {r: replaced.get(match.nodes_map[p], match.nodes_map[p])
                   for r, p in zip(replacement_inputs, matcher.placeholders, strict=True)}
        # right before the first reader of the match's result (after the anchor when none), as torch.fx places it
        users = set(anchor.users)
        with graph.inserting_before(next((n for n in graph.nodes if n in users), anchor.next)):
            for node in replacement_graph.nodes:
                if node.op == "placeholder":
                    continue
                if node.op == "output":
                    result = map_arg(node.args[0], val_map.__getitem__)
                    break
                val_map[node] = graph.node_copy(node, val_map.__getitem__)
        anchor.replace_all_uses_with(result)
        replaced[anchor] = result
        inner = [g for p, g in match.nodes_map.items() if p.op != "placeholder"]
        # erase users before what they read: graph order, reversed
        order = {n: i for i, n in enumerate(graph.nodes)}
        for node in sorted(inner, key=order.__getitem__, reverse=True):
            graph.erase_node(node)
    gm.recompile()
    return matches
