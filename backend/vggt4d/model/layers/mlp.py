"""Two-layer feed-forward network with the exact (erf) GELU used everywhere in VGGT."""

from torch import Tensor, nn


class Mlp(nn.Module):
    """``fc1 -> GELU -> fc2``; the keys are ``mlp.fc1`` / ``mlp.fc2`` (and ``pose_branch.*``)."""

    def __init__(self, dim: int, hidden_dim: int, out_dim: int | None = None, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim, bias=bias)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, out_dim or dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))
