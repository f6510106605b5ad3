"""Weight layouts the kernels read (see qgemm.cpp): tiles of 16 output rows, each 64-byte step
holding 4 consecutive k of each of the 16 rows, so one 512-bit dot product serves 16 rows."""

import torch
from torch import Tensor

TILE = 16


def pack_int8(q: Tensor) -> Tensor:
    """int8 [N, K] -> uint8 [N/16, K/4, 16, 4] holding q + 128 (VNNI's unsigned operand)."""
    n, k = q.shape
    assert n % TILE == 0 and k % 32 == 0, (n, k)
    u = (q.to(torch.int16) + 128).to(torch.uint8)
    return u.view(n // TILE, TILE, k // 4, 4).permute(0, 2, 1, 3).contiguous()


def unpack_int8(p: Tensor) -> Tensor:
    """The inverse of pack_int8: int8 [N, K]."""
    t, s = p.shape[0], p.shape[1]
    return (p.permute(0, 2, 1, 3).reshape(t * TILE, s * 4).to(torch.int16) - 128).to(torch.int8)


def pack_int4(codes: Tensor) -> Tensor:
    """Codes [N, K] (0..15) -> uint8 [N/16, K/32, 4, 16, 4]: per 32-k block, 4 steps of 64
    bytes; byte (p, j, i) = code[j, 8p + i] | code[j, 8p + 4 + i] << 4."""
    n, k = codes.shape
    assert n % TILE == 0 and k % 32 == 0, (n, k)
    c = codes.to(torch.uint8).view(n // TILE, TILE, k // 32, 4, 2, 4).permute(0, 2, 3, 1, 4, 5)
    return (c[..., 0, :] | (c[..., 1, :] << 4)).contiguous()


def unpack_int4(p: Tensor) -> Tensor:
    """The inverse of pack_int4: codes uint8 [N, K]."""
    t, nb = p.shape[0], p.shape[1]
    c = torch.stack([p & 15, p >> 4], -2)  # [T, nb, 4, 16, 2, 4]
    return c.permute(0, 3, 1, 2, 4, 5).reshape(t * TILE, nb * 32)


def pack_groups(v: Tensor) -> Tensor:
    """Per-group values [N, K/G] -> fp16 [N/16, K/G, 16] (one 16-row vector per tile and group)."""
    n, g = v.shape
    return v.to(torch.float16).view(n // TILE, TILE, g).transpose(1, 2).contiguous()


def unpack_groups(p: Tensor) -> Tensor:
    return p.transpose(1, 2).reshape(-1, p.shape[1]).float()
