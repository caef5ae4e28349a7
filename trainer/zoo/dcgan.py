"""DCGAN's ``Generator`` and ``Discriminator`` (PyTorch's DCGAN example, ``main`` as an ``nn.Sequential``),
sized for small square images: 8x8, 16x16 or 32x32 pixels."""

from __future__ import annotations

from trainer import nn

_SIZES = (8, 16, 32)


def _stages(image_size: int) -> int:
    """The number of stride-2 stages between a 4x4 feature map and an ``image_size`` image."""
    if image_size not in _SIZES:
        raise ValueError(f"DCGAN image_size must be one of {_SIZES}, got {image_size}")
    return _SIZES.index(image_size) + 1


class Generator(nn.Module):
    """Noise ``(N, nz, 1, 1)`` -> images ``(N, nc, image_size, image_size)`` in [-1, 1]: a 4x4 transposed
    convolution, then stride-2 transposed convolutions that double the size, with batch norm and ReLU
    between them and ``Tanh`` at the end."""

    def __init__(self, nz: int = 16, ngf: int = 32, nc: int = 1, image_size: int = 8):
        super().__init__()
        self.nz = nz
        stages = _stages(image_size)
        width = ngf * 2 ** (stages - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width),
                                   nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    """Images ``(N, nc, image_size, image_size)`` -> the probability ``(N,)`` that each is real: stride-2
    convolutions with ``LeakyReLU(0.2)`` (batch norm after the first), a 4x4 convolution to one value and
    ``Sigmoid``."""

    def __init__(self, nc: int = 1, ndf: int = 32, image_size: int = 8):
        super().__init__()
        stages = _stages(image_size)
        layers: list[nn.Module] = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(stages - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                       nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m: nn.Module) -> None:
    """The DCGAN paper's initialisation (``model.apply(weights_init)``): N(0, 0.02) convolutions, N(1, 0.02)
    batch-norm scales and zero shifts."""
    name = type(m).__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
