"""Neural-network building blocks with PyTorch's API: modules, layers, losses, ``functional``, ``init``."""

from trainer.nn import functional, init, utils
from trainer.nn.modules.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from trainer.nn.modules.attention import MultiheadAttention
from trainer.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from trainer.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from trainer.nn.modules.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from trainer.nn.modules.distance import CosineSimilarity, PairwiseDistance
from trainer.nn.modules.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from trainer.nn.modules.flatten import Flatten, Unflatten
from trainer.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from trainer.nn.modules.linear import Bilinear, Identity, Linear
from trainer.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelSoftMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from trainer.nn.modules.module import Module
from trainer.nn.modules.normalization import GroupNorm, LayerNorm, RMSNorm
from trainer.nn.modules.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from trainer.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle
from trainer.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from trainer.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from trainer.nn.modules.sparse import Embedding
from trainer.nn.modules.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from trainer.nn.modules.upsampling import Upsample
from trainer.nn.parameter import Parameter
