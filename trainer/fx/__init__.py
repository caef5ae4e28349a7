"""``trainer.fx``: capture a model's ``forward`` as a graph and transform it (``torch.fx``).

``symbolic_trace(model)`` runs ``forward`` on ``Proxy`` values and returns a ``GraphModule`` whose ``graph`` lists the
nodes and whose ``code`` is the regenerated Python; ``Interpreter``/``Transformer`` run and rewrite graphs, and
``replace_pattern`` swaps one traced subgraph for another.
"""

from trainer.fx._symbolic_trace import Tracer, symbolic_trace, wrap
from trainer.fx.graph import Graph, PythonCode
from trainer.fx.graph_module import GraphModule
from trainer.fx.interpreter import Interpreter, Transformer
from trainer.fx.node import Node, map_arg
from trainer.fx.proxy import Proxy
from trainer.fx.subgraph_rewriter import replace_pattern

__all__ = ["Graph", "GraphModule", "Interpreter", "Node", "Proxy", "PythonCode", "Tracer", "Transformer", "map_arg",
           "replace_pattern", "symbolic_trace", "wrap"]
