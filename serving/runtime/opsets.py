"""The opset versions a graph (or an inlined function body) was written against."""

from __future__ import annotations

from serving.errors import UnsupportedOperatorError
from serving.kernels.registry import canonical_domain


class Opsets:
    def __init__(self, imports):
        self._versions = {canonical_domain(entry.domain): entry.version for entry in imports}

    def version(self, domain: str) -> int:
        domain = canonical_domain(domain)
        if domain not in self._versions:
            raise UnsupportedOperatorError(
                f"the model uses domain {domain or 'ai.onnx'!r} but does not import it in opset_import "
                f"(it imports {sorted(self._versions)})"
            )
        return self._versions[domain]

    def overlaid(self, imports) -> Opsets:
        """These opsets with a function body's own imports taking precedence."""
        merged = Opsets(())
        merged._versions = {**self._versions, **Opsets(imports)._versions}
        return merged
