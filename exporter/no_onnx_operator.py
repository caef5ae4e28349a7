"""Ops that torch.onnx cannot export faithfully either and the exporter refuses, family by family, with why (ONNX
has no operator for them, and a composite of its operators would only approximate trainer's values) and what to do
instead. An approximation is never emitted: an exported graph either computes what trainer computes or does not
export.
"""

_FAMILIES = {
    ("Inverse", "Cholesky", "LUDecomposition", "QRDecomposition", "HouseholderQR", "SingularValueDecomposition",
     "SymmetricEigen", "GeneralEigen", "LDLDecomposition", "LDLSolve", "Solve", "TriangularSolve", "SlogDet",
     "MatrixExp"): (
        "ONNX has no operator for matrix inverses, factorizations, solves or matrix functions (only Det), and "
        "writing one from elementwise operators needs data-dependent pivoting and iteration.",
        "Compute it outside the exported model (for a fixed matrix, precompute the result and register it as a "
        "buffer), or export the parts before and after it as separate models."),
    ("ErfInv", "LGamma", "Digamma", "Polygamma", "Zeta", "I0", "I0e", "I1", "I1e", "BesselFunction", "CephesFunction",
     "Erfcx", "Ndtr", "Ndtri", "LogNdtr", "IGamma", "IGammac", "GammaInc"): (
        "ONNX has no operator for this special function (its only one is Erf), and a series or rational "
        "approximation built from other operators would not give trainer's values.",
        "Apply the function to the exported model's outputs in the application, or precompute it where its input "
        "is a constant."),
    ("Gcd", "Lcm"): (
        "ONNX has no gcd/lcm operator, and Euclid's algorithm takes a data-dependent number of steps.",
        "Compute it in the application on the exported model's integer outputs."),
    ("Histc", "BinCount", "HistogramCounts", "HistogramddCounts"): (
        "ONNX has no histogram or bincount operator; bin edges computed from other operators round differently "
        "from trainer's at the edges, and bincount's length comes from the data's largest value.",
        "Return the values from the exported model and count them in the application."),
    ("NormalSample", "BernoulliSample", "BernoulliFixedSample", "BinomialSample", "PoissonSample", "BetaDraw",
     "DirichletDraw", "StandardGamma", "AddGumbelNoise", "RRelu", "AlphaDropout"): (
        "it draws random numbers from trainer's generator, which ONNX's Random* operators cannot reproduce, so the "
        "exported graph could not be checked against trainer's output.",
        "Export in eval mode without the random step (nn.RReLU, dropout and their functional forms with "
        "training=False draw nothing), or draw the noise outside the model and pass it in as an input."),
}


# trainer op name -> why it does not export and what to do instead
WHY_NOT = {op: f"{reason} {advice}" for ops, (reason, advice) in _FAMILIES.items() for op in ops}
