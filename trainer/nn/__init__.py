"""Neural-network building blocks with PyTorch's API: modules, layers, losses, ``functional``, ``init``."""

from trainer.nn import attention, common_types, functional, grad, init, utils
from trainer.nn.factory_arguments import factory_kwargs
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
    RReLU,
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
from trainer.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss
from trainer.nn.modules.attention import MultiheadAttention
from trainer.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from trainer.nn.modules.channelshuffle import ChannelShuffle
from trainer.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from trainer.nn.modules.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from trainer.nn.modules.distance import CosineSimilarity, PairwiseDistance
from trainer.nn.modules.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from trainer.nn.modules.embedding_bag import EmbeddingBag
from trainer.nn.modules.flatten import Flatten, Unflatten
from trainer.nn.modules.fold import Fold, Unfold
from trainer.nn.modules.fractional_pool import FractionalMaxPool2d, FractionalMaxPool3d
from trainer.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from trainer.nn.modules.lazy import (
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyConvTranspose3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
    LazyLinear,
)
from trainer.nn.modules.legacy_container import Container
from trainer.nn.modules.linear import Bilinear, Identity, Linear
from trainer.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss
from trainer.nn.modules.linear_cross_entropy_options import LinearCrossEntropyOptions
from trainer.nn.modules.local_response_norm import CrossMapLRN2d, LocalResponseNorm
from trainer.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    NLLLoss2d,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from trainer.nn.modules.lp_pooling import LPPool1d, LPPool2d, LPPool3d
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
from trainer.nn.modules.sync_batchnorm import SyncBatchNorm
from trainer.nn.modules.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from trainer.nn.modules.unpooling import MaxUnpool1d, MaxUnpool2d, MaxUnpool3d
from trainer.nn.modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from trainer.nn.parallel import DataParallel
from trainer.nn.parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
