"""Levenberg-Marquardt for bundle adjustment: Huber-weighted, points eliminated by the Schur
complement (Triggs et al., "Bundle Adjustment - A Modern Synthesis", 2000, section 6.1).

Why not scipy.optimize.least_squares: its trust-region solvers either densify the Jacobian or
solve every step iteratively with LSMR, which crawls along BA's gauge and focal/depth valleys
(measured in docs/solve.md: 100 evaluations per round without converging, 30 s for a
16-frame shot). Eliminating the 3x3 point blocks leaves a small camera system solved exactly,
so each step is a Newton step and a solve converges in tens of iterations.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from threadpoolctl import threadpool_limits

# Camera systems up to this size are solved densely (Cholesky), larger ones by sparse LU:
# measured on a 48-frame-banded system with one shared lens column, 2 shared cores, one thread:
# 769 unknowns (128 frames) 0.13 s dense vs 0.26 s sparse; 1537 unknowns 0.81 s vs 0.45 s.
_DENSE_LIMIT = 1000
# A step that lowers the mean squared error by less than this (pixels^2) is convergence.
_STILL_PX2 = 1e-10


@dataclass
class Solution:
    parameters: np.ndarray
    residuals: np.ndarray  # [2N] at the solution
    iterations: int


def minimise(
    residuals: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], scipy.sparse.csr_matrix],
    start: np.ndarray,
    point_start: int,
    loss_scale: float,
    max_iterations: int = 100,
    tolerance: float = 1e-7,
    fixed: np.ndarray | None = None,
) -> Solution:
    """Minimise sum huber(|r_n|) over observations r_n = residuals[2n:2n+2].

    Parameters from `point_start` on are 3-D points, each touched only through its own three
    columns (block-diagonal in the normal equations); the ones before are the cameras and lens.
    fixed: indices of camera parameters held at their start (e.g. the first camera's pose,
    which removes six of the seven gauge directions and steadies the steps).
    """
    held = np.zeros(len(start), bool)
    if fixed is not None:
        held[fixed] = True
    keep = scipy.sparse.diags((~held).astype(np.float64))
    parameters = np.array(start, np.float64)
    current = residuals(parameters)
    cost = _huber_cost(current, loss_scale)
    damping = 1e-4
    iteration = 0
    # Every dense system here is small (one camera block row at a time): BLAS threads only
    # wait on each other, badly so on shared cores (a 193x193 Cholesky took 0.25 s with two
    # OpenBLAS threads beside another job, 0.2 ms with one).
    with threadpool_limits(limits=1, user_api="blas"):
        for iteration in range(1, max_iterations + 1):  # noqa: B007 (reported)
            weights = _huber_weights(current, loss_scale)
            matrix = (jacobian(parameters) @ keep).tocsr()
            system = _NormalEquations.build(matrix, weights, current, point_start)
            improved = False
            while damping < 1e12:
                step = system.step(damping)
                candidate = parameters + step
                trial = residuals(candidate)
                trial_cost = _huber_cost(trial, loss_scale)
                if np.isfinite(trial_cost) and trial_cost < cost:
                    improved = True
                    break
                damping *= 10.0
            if not improved:
                break
            lowered = cost - trial_cost
            decrease = lowered / max(cost, 1e-300)
            parameters, current, cost = candidate, trial, trial_cost
            damping = max(damping / 10.0, 1e-12)
            # Relative, and absolute for a cost near zero (a locked-off shot tracks to
            # micro-pixels; its relative decrease need not fall while depth drifts unobserved).
            still = lowered / (len(current) / 2) < _STILL_PX2
            if decrease < tolerance or still or np.max(np.abs(step)) < 1e-12:
                break
    return Solution(parameters, current, iteration)


def marginal_variance(
    matrix: scipy.sparse.csr_matrix,
    residuals: np.ndarray,
    loss_scale: np.ndarray | float,
    point_start: int,
    column: int,
    fixed: np.ndarray | None = None,
) -> float:
    """[H^-1] at (column, column) for the Huber-weighted normal equations H = J^T W J at
    `residuals` (the points eliminated; `fixed` columns held): the variance of that camera or
    lens parameter per unit of residual noise (inf when the system is singular)."""
    keep = np.ones(matrix.shape[1])
    if fixed is not None:
        keep[fixed] = 0.0
    weights = _huber_weights(residuals, loss_scale)
    system = _NormalEquations.build(
        (matrix @ scipy.sparse.diags(keep)).tocsr(), weights, residuals, point_start
    )
    system.gradient = np.zeros(matrix.shape[1])
    system.gradient[column] = 1.0
    # A whisker of damping keeps a point seen along one ray (a singular 3x3 block) invertible.
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"):
        try:
            variance = float(system.step(1e-9)[column])
        except (ValueError, np.linalg.LinAlgError):
            return np.inf
    return variance if np.isfinite(variance) and variance > 0 else np.inf


def _huber_weights(residuals: np.ndarray, scale: float) -> np.ndarray:
    """IRLS weight [N] of each observation: 1 inside `scale` pixels, scale / error beyond."""
    error = np.linalg.norm(residuals.reshape(-1, 2), axis=1)
    return np.where(error <= scale, 1.0, scale / np.maximum(error, 1e-300))


def _huber_cost(residuals: np.ndarray, scale: float) -> float:
    error = np.linalg.norm(residuals.reshape(-1, 2), axis=1)
    return float(np.sum(np.where(error <= scale, error**2, 2.0 * scale * error - scale**2)))


@dataclass
class _NormalEquations:
    """The weighted normal equations H step = g split for the Schur complement: the camera
    block (C x C), the camera-point coupling as 3x3 blocks (rows padded to a multiple of 3, so
    products run block by block: five times faster than element-wise CSR on a 32-frame shot)
    and the points' 3x3 diagonal blocks."""

    cameras: scipy.sparse.csr_matrix
    coupling: scipy.sparse.bsr_matrix
    points: np.ndarray  # [T, 3, 3]
    gradient: np.ndarray

    @classmethod
    def build(
        cls,
        matrix: scipy.sparse.csr_matrix,
        weights: np.ndarray,
        residuals: np.ndarray,
        point_start: int,
    ) -> "_NormalEquations":
        weighted = scipy.sparse.diags(np.repeat(weights, 2)) @ matrix
        hessian = (matrix.T @ weighted).tocsr()
        padded = -(-point_start // 3) * 3
        coupling = hessian[:point_start, point_start:]
        if padded > point_start:
            filler = scipy.sparse.csr_matrix((padded - point_start, coupling.shape[1]))
            coupling = scipy.sparse.vstack([coupling, filler], format="csr")
        return cls(
            cameras=hessian[:point_start, :point_start],
            coupling=coupling.tobsr(blocksize=(3, 3)),
            points=_diagonal_blocks(hessian[point_start:, point_start:]),
            gradient=-(weighted.T @ residuals),
        )

    def step(self, damping: float) -> np.ndarray:
        """Solve (H + damping * diag(H)) step = g with the point blocks eliminated; unknowns
        that nothing touches (a zero diagonal, e.g. held ones) get a unit diagonal and no step."""
        size = self.cameras.shape[0]
        diagonal = self.cameras.diagonal()
        cameras = self.cameras + scipy.sparse.diags(
            damping * diagonal + np.where(diagonal > 0, 0.0, 1.0)
        )
        points = self.points.copy()
        axis = np.arange(3)
        point_diagonal = points[:, axis, axis]
        points[:, axis, axis] += damping * point_diagonal + np.where(point_diagonal > 0, 0.0, 1.0)
        inverse = _inverse_3x3(points)
        count = len(inverse)
        points_inverse = scipy.sparse.bsr_matrix(
            (inverse, np.arange(count), np.arange(count + 1)), shape=(3 * count, 3 * count)
        )
        coupling_inverse = self.coupling @ points_inverse
        reduced = cameras - (coupling_inverse @ self.coupling.T).tocsr()[:size, :size]
        point_gradient = self.gradient[size:]
        right = self.gradient[:size] - (coupling_inverse @ point_gradient)[:size]
        camera_step = _solve_cameras(reduced, right)
        padded = np.zeros(self.coupling.shape[0])
        padded[:size] = camera_step
        point_step = points_inverse @ (point_gradient - self.coupling.T @ padded)
        return np.concatenate([camera_step, point_step])


def _solve_cameras(reduced: scipy.sparse.csr_matrix, right: np.ndarray) -> np.ndarray:
    """The reduced camera system: dense Cholesky while small, sparse LU beyond (a long shot's
    system is banded: frames share points only with their neighbours)."""
    if reduced.shape[0] <= _DENSE_LIMIT:
        dense = reduced.toarray()
        try:
            return scipy.linalg.cho_solve(scipy.linalg.cho_factor(dense), right)
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(dense, right, rcond=None)[0]
    return scipy.sparse.linalg.spsolve(reduced.tocsc(), right)


def _diagonal_blocks(matrix: scipy.sparse.csr_matrix) -> np.ndarray:
    """The 3x3 diagonal blocks [T, 3, 3] of a block-diagonal sparse matrix."""
    coo = matrix.tocoo()
    blocks = np.zeros((matrix.shape[0] // 3, 3, 3))
    inside = coo.row // 3 == coo.col // 3
    np.add.at(
        blocks,
        (coo.row[inside] // 3, coo.row[inside] % 3, coo.col[inside] % 3),
        coo.data[inside],
    )
    return blocks


def _inverse_3x3(blocks: np.ndarray) -> np.ndarray:
    """Inverses [T, 3, 3] by the adjugate (batched np.linalg.inv is far slower for 3x3)."""
    a = blocks
    adjugate = np.empty_like(a)
    adjugate[:, 0, 0] = a[:, 1, 1] * a[:, 2, 2] - a[:, 1, 2] * a[:, 2, 1]
    adjugate[:, 0, 1] = a[:, 0, 2] * a[:, 2, 1] - a[:, 0, 1] * a[:, 2, 2]
    adjugate[:, 0, 2] = a[:, 0, 1] * a[:, 1, 2] - a[:, 0, 2] * a[:, 1, 1]
    adjugate[:, 1, 0] = a[:, 1, 2] * a[:, 2, 0] - a[:, 1, 0] * a[:, 2, 2]
    adjugate[:, 1, 1] = a[:, 0, 0] * a[:, 2, 2] - a[:, 0, 2] * a[:, 2, 0]
    adjugate[:, 1, 2] = a[:, 0, 2] * a[:, 1, 0] - a[:, 0, 0] * a[:, 1, 2]
    adjugate[:, 2, 0] = a[:, 1, 0] * a[:, 2, 1] - a[:, 1, 1] * a[:, 2, 0]
    adjugate[:, 2, 1] = a[:, 0, 1] * a[:, 2, 0] - a[:, 0, 0] * a[:, 2, 1]
    adjugate[:, 2, 2] = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    determinant = np.einsum("ti,ti->t", a[:, 0, :], adjugate[:, :, 0])
    return adjugate / determinant[:, None, None]
