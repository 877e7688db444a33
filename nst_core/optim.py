"""The optimisers as the loop uses them: a batch of pictures, each with its own state and step, on the device.

Both take the pictures as one (B, ...) tensor and its gradient, and change it in place with tensor
operations only: no Python branch reads a tensor, so nothing waits for the device between previews
and a CUDA graph can hold the whole update. Their state lives in tensors allocated once and written
in place, which is what a captured graph needs.

`LBFGS` is torch.optim.LBFGS(max_iter=1, tolerance_grad=0, tolerance_change=0), one step per call,
for every picture at once: the same first step, the same rule for keeping a curvature pair and the
same scaling of the initial inverse Hessian. It computes H·g in the compact form of Byrd, Nocedal and
Schnabel (1994) instead of the two-loop recursion: four batched matrix products over the stacked
history S, Y and two small triangular solves, instead of 4m dot products and vector updates that
each go through memory (and launch a kernel) of their own.
"""

from __future__ import annotations

import torch

CURVATURE_EPS = 1e-10  # a pair is kept when s·y exceeds this, as torch.optim.LBFGS does
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
ADAM_EPS = 1e-8


class LBFGS:
    """Limited-memory BFGS for a batch: each picture keeps its own `history` curvature pairs and step size."""

    def __init__(self, like: torch.Tensor, lr: torch.Tensor, history: int):
        batch, size = like.shape[0], like[0].numel()
        self.lr = lr.to(like.device, like.dtype).clone()  # (B,)
        self.S = like.new_zeros(batch, history, size)  # steps, a ring of `history` slots
        self.Y = torch.zeros_like(self.S)  # gradient changes, in the same slots
        self.SY = like.new_zeros(batch, history, history)  # s_i . y_j, by slot
        self.YY = torch.zeros_like(self.SY)  # y_i . y_j, by slot
        self.pairs = like.new_zeros(batch, dtype=torch.long)  # pairs kept since the start (slot = pairs % history)
        self.iterations = like.new_zeros(batch, dtype=torch.long)
        self.gamma = like.new_ones(batch)  # H0 = gamma I
        self.direction = like.new_zeros(batch, size)
        self.t = like.new_zeros(batch)  # the step length taken along `direction`
        self.previous = like.new_zeros(batch, size)  # the gradient at the last step
        self._rows = torch.arange(batch, device=like.device)
        self._ages = torch.arange(history, device=like.device)

    @torch.no_grad()
    def step(self, x: torch.Tensor, grad: torch.Tensor) -> None:
        """One iteration for every picture: x (B, ...) moves along its own L-BFGS direction."""
        g = grad.detach().reshape(len(x), -1).to(self.S.dtype)  # (B, N)
        moving = g.abs().amax(1) > 0  # torch returns at once on a zero gradient, changing nothing
        first = self.iterations == 0
        self._remember(g, moving & ~first)
        direction = -self._inverse_hessian_times(g)
        t = torch.where(first, torch.clamp(1.0 / g.abs().sum(1), max=1.0) * self.lr, self.lr)
        descent = ~((g * direction).sum(1) > 0)  # torch steps unless g.d > 0 (so a NaN still steps)
        x.add_((torch.where(moving & descent, t, 0.0)[:, None] * direction).view_as(x).to(x.dtype))
        keep = moving[:, None]
        self.direction.copy_(torch.where(keep, direction, self.direction))
        self.t.copy_(torch.where(moving, t, self.t))
        self.previous.copy_(torch.where(keep, g, self.previous))
        self.iterations.add_(moving.long())

    @torch.no_grad()
    def reset(self, which: torch.Tensor, lr: torch.Tensor) -> None:
        """Start the pictures where `which` (B,) is true afresh, with step scale `lr` (B,); others keep theirs."""
        self.lr.copy_(torch.where(which, lr, self.lr))
        self.S.masked_fill_(which[:, None, None], 0.0)  # zeros, not just forgotten: 0 x inf would be NaN
        self.Y.masked_fill_(which[:, None, None], 0.0)
        for state in (self.SY, self.YY):
            state.masked_fill_(which[:, None, None], 0.0)
        for state in (self.pairs, self.iterations):
            state.masked_fill_(which, 0)
        self.gamma.masked_fill_(which, 1.0)

    def _remember(self, g: torch.Tensor, allowed: torch.Tensor) -> None:
        """Keep the curvature pair of the last step, (s, y), where s.y > CURVATURE_EPS."""
        y = g - self.previous
        s = self.direction * self.t[:, None]
        ys = (y * s).sum(1)
        kept = allowed & (ys > CURVATURE_EPS)
        slot = self.pairs % self.S.shape[1]
        rows, keep = self._rows, kept[:, None]
        self.S[rows, slot] = torch.where(keep, s, self.S[rows, slot])
        self.Y[rows, slot] = torch.where(keep, y, self.Y[rows, slot])
        # The new pair's row and column of S'Y and Y'Y, one pass over each stack.
        s_y = torch.bmm(self.S, y[:, :, None]).squeeze(2)  # (B, m): s_i . y_new
        y_sy = torch.bmm(self.Y, torch.stack((s, y), 2))  # (B, m, 2): y_i . s_new, y_i . y_new
        self.SY[rows, :, slot] = torch.where(keep, s_y, self.SY[rows, :, slot])
        self.SY[rows, slot, :] = torch.where(keep, y_sy[..., 0], self.SY[rows, slot, :])
        self.YY[rows, :, slot] = torch.where(keep, y_sy[..., 1], self.YY[rows, :, slot])
        self.YY[rows, slot, :] = torch.where(keep, y_sy[..., 1], self.YY[rows, slot, :])
        self.gamma.copy_(torch.where(kept, ys / (y * y).sum(1), self.gamma))
        self.pairs.add_(kept.long())

    def _inverse_hessian_times(self, g: torch.Tensor) -> torch.Tensor:
        """H g in compact form: H = gamma I + [S  gamma Y] M [S  gamma Y]^T (Byrd, Nocedal & Schnabel 1994, (2.6)).

        With R the upper triangle of S'Y in time order and D its diagonal:
        u = R^-1 S'g,  v = R^-T ((D + gamma Y'Y) u - gamma Y'g),  H g = gamma g + S v - gamma Y u.
        Unused slots get a unit diagonal and zero rows, so their u and v are 0.
        """
        history = self.S.shape[1]
        order = (self.pairs[:, None] + self._ages) % history  # (B, m): slots oldest first; unused ones lead
        used = self._ages >= history - self.pairs.clamp(max=history)[:, None]  # (B, m) in that order
        both = used[:, :, None] & used[:, None, :]

        def in_time_order(matrix: torch.Tensor) -> torch.Tensor:
            rows = matrix.gather(1, order[:, :, None].expand_as(matrix))
            return torch.where(both, rows.gather(2, order[:, None, :].expand_as(matrix)), 0.0)

        sy, yy = in_time_order(self.SY), in_time_order(self.YY)
        s_g = torch.where(used, torch.bmm(self.S, g[:, :, None]).squeeze(2).gather(1, order), 0.0)  # (B, m)
        y_g = torch.where(used, torch.bmm(self.Y, g[:, :, None]).squeeze(2).gather(1, order), 0.0)
        diagonal = torch.diagonal(sy, dim1=1, dim2=2)
        r = torch.triu(sy) + torch.diag_embed((~used).to(sy.dtype))
        gamma = self.gamma[:, None]
        u = torch.linalg.solve_triangular(r, s_g[:, :, None], upper=True)  # (B, m, 1)
        w = diagonal[:, :, None] * u + gamma[:, :, None] * (yy @ u) - gamma[:, :, None] * y_g[:, :, None]
        v = torch.linalg.solve_triangular(r.transpose(1, 2), w, upper=False)
        # Back to slot order for the products with the stacks.
        u_slots = torch.zeros_like(u).scatter_(1, order[:, :, None], u)
        v_slots = torch.zeros_like(v).scatter_(1, order[:, :, None], v)
        return (gamma * g + torch.bmm(v_slots.transpose(1, 2), self.S).squeeze(1)
                - gamma * torch.bmm(u_slots.transpose(1, 2), self.Y).squeeze(1))


class Adam:
    """Adam for a batch (torch.optim.Adam's update and defaults), each picture with its own step size and count."""

    def __init__(self, like: torch.Tensor, lr: torch.Tensor):
        self.lr = lr.to(like.device, like.dtype).clone()  # (B,)
        self.mean = torch.zeros_like(like)
        self.square = torch.zeros_like(like)
        self.count = like.new_zeros(len(like))

    @torch.no_grad()
    def step(self, x: torch.Tensor, grad: torch.Tensor) -> None:
        beta1, beta2 = ADAM_BETAS
        g = grad.detach().to(self.mean.dtype)
        self.count.add_(1)
        self.mean.lerp_(g, 1 - beta1)
        self.square.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        shape = (-1,) + (1,) * (x.ndim - 1)
        step_size = (self.lr / (1 - beta1**self.count)).view(shape)
        denominator = (self.square.sqrt() / (1 - beta2**self.count).sqrt().view(shape)).add_(ADAM_EPS)
        x.sub_((step_size * self.mean / denominator).to(x.dtype))

    @torch.no_grad()
    def reset(self, which: torch.Tensor, lr: torch.Tensor) -> None:
        """Start the pictures where `which` (B,) is true afresh, with step `lr` (B,)."""
        self.lr.copy_(torch.where(which, lr, self.lr))
        picture = which.view((-1,) + (1,) * (self.mean.ndim - 1))
        self.mean.masked_fill_(picture, 0.0)
        self.square.masked_fill_(picture, 0.0)
        self.count.masked_fill_(which, 0.0)


Optimizer = LBFGS | Adam


def make_optimizer(x: torch.Tensor, optimizer: str, lr: torch.Tensor, history: int) -> Optimizer:
    """The batched optimiser named `optimizer` ("lbfgs" or "adam") for the pictures x (B, ...)."""
    return Adam(x, lr) if optimizer == "adam" else LBFGS(x, lr, history)
