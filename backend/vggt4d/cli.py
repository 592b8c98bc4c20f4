"""The `vggt4d` command line: reconstruct footage, export a bundle, summarise a bundle.

A thin shell over `vggt4d.job.run_job` and the bundle/export functions: parse, call, format.
Errors the user can fix print one line `error: <message>` and exit with status 2.
"""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from vggt4d.errors import VGGT4DError

if TYPE_CHECKING:
    from vggt4d.batch.runner import BatchSettings
    from vggt4d.job import JobOptions, ProgressUpdate
    from vggt4d.solve.camera_solve import SolveOptions

_BAR_WIDTH = 30


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `vggt4d` console script; returns the exit status."""
    arguments = _parser().parse_args(argv)
    try:
        status = arguments.command(arguments)
        sys.stdout.flush()  # here, where a closed pipe is caught below, not at exit
        return status
    except VGGT4DError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`vggt4d info BUNDLE | head`): no traceback, and none at exit when
        # Python flushes stdout into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vggt4d", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    reconstruct = commands.add_parser("reconstruct", help="footage -> result bundle")
    reconstruct.add_argument("input", help="video file, image folder or pattern (shot.%%04d.png)")
    reconstruct.add_argument("-o", "--output", required=True, help="bundle directory to write")
    reconstruct.add_argument("--masks", help="folder of artist masks (mask.NNNNNN.png)")
    _add_job_arguments(reconstruct)
    reconstruct.set_defaults(command=_reconstruct)

    export = commands.add_parser("export", help="bundle -> COLMAP / TUM / PLY")
    export.add_argument("bundle")
    export.add_argument("--colmap", help="folder for cameras.txt, images.txt, points3D.txt")
    export.add_argument(
        "--colmap-images",
        action="store_true",
        help="also write the plate frames into COLMAP/images under the names images.txt uses "
        "(needed for a video plate)",
    )
    export.add_argument("--tum", help="trajectory file (timestamp tx ty tz qx qy qz qw)")
    export.add_argument("--ply", help="static point cloud file")
    export.add_argument("--ply-dynamic", action="store_true", help="add dynamic points to --ply")
    export.set_defaults(command=_export)

    batch = commands.add_parser("batch", help="many shots on a Ray cluster -> bundles")
    batch.add_argument("shots", nargs="?", help="folder of shots, or text / JSON shots file")
    batch.add_argument("--out", help="folder for the bundles and batch.json")
    batch.add_argument("--status", metavar="DIR", help="summarise DIR/batch.json and exit")
    _add_cluster_arguments(batch)
    _add_job_arguments(batch)
    batch.set_defaults(command=_batch)

    solve = commands.add_parser("solve", help="re-solve a bundle's cameras from its plate")
    solve.add_argument("bundle")
    solve.add_argument("--masks", help="folder of artist masks replacing the bundle's masks")
    solve.add_argument(
        "--network-masks",
        action="store_true",
        help="drop the artist masks of earlier solves: solve with the network's masks again",
    )
    _add_solve_arguments(solve)
    solve.set_defaults(command=_solve)

    info = commands.add_parser("info", help="validate a bundle and summarise it")
    info.add_argument("bundle")
    info.set_defaults(command=_info)

    evaluate = commands.add_parser("eval", help="score a bundle, or a benchmark, against truth")
    evaluate.add_argument("bundle", nargs="?", help="bundle to score (with --gt)")
    evaluate.add_argument("--gt", help="ground truth: sequence folder, or dataset root")
    evaluate.add_argument(
        "--layout", choices=("generic", "davis", "davis2017", "sintel", "tum", "bonn")
    )
    evaluate.add_argument("--sequence", help="sequence name inside a DAVIS or Sintel root")
    evaluate.add_argument("-o", "--output", help="report folder (default: BUNDLE-eval)")
    evaluate.add_argument(
        "--mask-resolution", choices=("plate", "model"), default="plate",
        help="score masks at the plate's or the model input's resolution (the paper's)",
    )  # fmt: skip
    evaluate.add_argument("--dataset", choices=("davis", "davis2017", "sintel", "tum", "bonn"))
    evaluate.add_argument("--root", help="benchmark root for --dataset (run through batch)")
    _add_cluster_arguments(evaluate)
    _add_job_arguments(evaluate)
    evaluate.set_defaults(command=_eval)
    return parser


def _add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """The Ray options of the commands that run a batch (`batch`, `eval --dataset`)."""
    parser.add_argument(
        "--address", help="join the Ray cluster at auto or HOST:PORT (default: a local one)"
    )
    parser.add_argument("--gpus-per-shot", type=float, default=1.0, help="default: 1")
    parser.add_argument("--cpus-per-shot", type=float, default=1.0, help="default: 1")
    parser.add_argument("--local-cpus", type=int, help="CPUs of the local cluster (default: all)")
    parser.add_argument(
        "--retries", type=int, default=2, help="retries of a shot whose worker died"
    )
    parser.add_argument("--dashboard", action="store_true", help="local Ray dashboard on 127.0.0.1")


def _add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The reconstruction options that `reconstruct` and `batch` share."""
    parser.add_argument("--frames", help="plate frames START:END:STRIDE (inclusive)")
    parser.add_argument("--max-frames", type=int, help="at most N frames, evenly spread")
    parser.add_argument(
        "--weights", default="facebook/VGGT-1B", help="Hugging Face id, folder or file"
    )
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--no-refine", action="store_true", help="skip mask refinement")
    parser.add_argument(
        "--mode",
        choices=("auto", "crop", "pad"),
        default="auto",
        help="model input: crop (official default; cuts tall plates), pad (whole plate), "
        "auto (crop unless it would cut, then pad)",
    )
    parser.add_argument(
        "--video-start",
        type=int,
        default=1,
        help="plate frame number of a video's first frame (a Movie Clip's start, e.g. 1001)",
    )
    parser.add_argument("--point-budget", type=int, help="most static points to keep")
    parser.add_argument(
        "--chunk-size",
        type=_chunk_size,
        metavar="auto|N",
        help="frames per VGGT4D pass on long shots (default auto: as many as fit in memory)",
    )
    parser.add_argument(
        "--overlap", type=int, help="frames shared by neighbouring chunks (default 8)"
    )
    parser.add_argument(
        "--solve",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="solve the cameras on the plate: tracks + bundle adjustment (default: on)",
    )
    _add_solve_arguments(parser)


def _add_solve_arguments(parser: argparse.ArgumentParser) -> None:
    """The lens model of the camera solve (`reconstruct`, `batch`, `solve`)."""
    parser.add_argument("--distortion", choices=("none", "polynomial"), default="none")
    parser.add_argument("--focal", choices=("shared", "per-frame", "fixed"), default="shared")
    parser.add_argument(
        "--principal-point", action="store_true", help="solve the principal point too"
    )
    parser.add_argument(
        "--smooth",
        action="store_true",
        help="smooth the solved camera path (never costing more than 0.05 px; docs/solve.md)",
    )
    parser.add_argument(
        "--smooth-strength",
        type=float,
        metavar="S",
        help="strength of --smooth (implies it; default 1, higher is smoother)",
    )


def _solve_options(arguments: argparse.Namespace) -> "SolveOptions":
    from vggt4d.solve.camera_solve import SolveOptions
    from vggt4d.solve.smooth import DEFAULT_STRENGTH

    strength = arguments.smooth_strength
    if strength is None:
        strength = DEFAULT_STRENGTH if arguments.smooth else 0.0
    return SolveOptions(
        focal=arguments.focal,
        distortion=arguments.distortion,
        refine_principal_point=arguments.principal_point,
        smooth=strength,
    )


def _job_options(arguments: argparse.Namespace) -> "JobOptions":
    from vggt4d.job import JobOptions  # torch loads only for the commands that run jobs

    defaults = JobOptions()
    return JobOptions(
        frames=arguments.frames,
        video_frame_start=arguments.video_start,
        max_frames=arguments.max_frames,
        weights=_weights_source(arguments.weights),
        device=arguments.device,
        masks_dir=getattr(arguments, "masks", None),
        preprocess_mode=arguments.mode,
        point_budget=arguments.point_budget or defaults.point_budget,
        reconstruct=replace(defaults.reconstruct, refine=not arguments.no_refine),
        solve=_solve_options(arguments) if arguments.solve else None,
        chunk_size=arguments.chunk_size or defaults.chunk_size,
        overlap=defaults.overlap if arguments.overlap is None else arguments.overlap,
    )


def _weights_source(source: str) -> str:
    """A local weights path made absolute, so the manifest's record works from any folder;
    a Hugging Face id unchanged."""
    local = Path(source).expanduser()
    return os.path.abspath(local) if local.exists() else source


def _reconstruct(arguments: argparse.Namespace) -> int:
    from vggt4d.preflight import check_job_paths

    check_job_paths(arguments.input, arguments.output)  # before torch loads: fail fast
    from vggt4d.job import run_job

    options = _job_options(arguments)
    bar = _ProgressBar()
    try:
        bundle = run_job(arguments.input, arguments.output, options, bar.update, log=bar.log)
    finally:
        bar.finish()
    print(bundle)
    return 0


def _solve(arguments: argparse.Namespace) -> int:
    from vggt4d.io.bundle_lock import bundle_lock

    with bundle_lock(arguments.bundle):  # before the slow imports: a busy bundle fails at once
        from vggt4d.job import run_solve

        bar = _ProgressBar()
        try:
            bundle = run_solve(
                arguments.bundle,
                _solve_options(arguments),
                arguments.masks,
                bar.update,
                network_masks=arguments.network_masks,
            )
        finally:
            bar.finish()
    print(bundle)
    return _info(argparse.Namespace(bundle=bundle))


def _batch(arguments: argparse.Namespace) -> int:
    from vggt4d.batch import record

    if arguments.status:
        folder = Path(arguments.status)
        batch_record = record.load_record(folder)
        print(record.describe(batch_record, live=record.is_locked(folder)))
        return 0 if batch_record.all_finished() else 1
    if not (arguments.shots and arguments.out):
        print("error: give SHOTS and --out DIR, or --status DIR", file=sys.stderr)
        return 2
    from vggt4d.batch.cluster import require_ray

    require_ray()  # before torch loads: a missing Ray is said at once
    from vggt4d.batch.runner import run_batch
    from vggt4d.batch.shots import read_shots

    shots = read_shots(arguments.shots, _job_options(arguments))
    settings = _batch_settings(arguments)
    bar = _ProgressBar()
    try:
        result = run_batch(shots, arguments.out, settings, bar.update, log=bar.log)
    finally:
        bar.finish()
    print(record.describe(result, live=False))
    return 0 if result.all_finished() else 1


def _batch_settings(arguments: argparse.Namespace) -> "BatchSettings":
    from vggt4d.batch.cluster import ClusterOptions
    from vggt4d.batch.runner import BatchSettings

    cluster = ClusterOptions(arguments.address, arguments.local_cpus, arguments.dashboard)
    return BatchSettings(
        cluster, arguments.gpus_per_shot, arguments.cpus_per_shot, arguments.retries
    )


def _chunk_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected auto or a number, got {text!r}") from error


def _export(arguments: argparse.Namespace) -> int:
    from vggt4d.io.bundle import read_bundle
    from vggt4d.io.exports import export_colmap, export_ply, export_tum

    if not (arguments.colmap or arguments.tum or arguments.ply):
        print("error: nothing to export: give --colmap, --tum and/or --ply", file=sys.stderr)
        return 2
    data = read_bundle(arguments.bundle)
    if arguments.colmap:
        print(export_colmap(data, arguments.colmap, write_images=arguments.colmap_images))
    if arguments.tum:
        print(export_tum(data, arguments.tum))
    if arguments.ply:
        print(export_ply(data, arguments.ply, include_dynamic=arguments.ply_dynamic))
    return 0


def _info(arguments: argparse.Namespace) -> int:
    from vggt4d.io.bundle import validate_bundle
    from vggt4d.io.bundle_format import (
        describe_connectivity,
        describe_focal,
        describe_focal_switch,
        describe_lens_check,
        describe_locked_off,
        describe_smoothing,
    )

    manifest = validate_bundle(arguments.bundle)
    plate, model_input, counts = manifest["plate"], manifest["model_input"], manifest["counts"]
    frames, model = manifest["frames"], manifest["model"]
    timings = manifest["timings"]
    lines = [
        f"bundle:   {Path(arguments.bundle).resolve()} (valid, version {manifest['version']})",
        f"source:   {manifest['source']['path']} ({manifest['source']['kind']})",
        f"plate:    {plate['width']}x{plate['height']} at {plate['fps']:g} fps",
        f"frames:   {counts['frames']} ({frames[0]}..{frames[-1]})",
        f"model:    {model['source']} at {model_input['width']}x{model_input['height']} "
        f"({model_input['mode']})" + (" - UNTRAINED TEST WEIGHTS" if model["test_weights"] else ""),
        f"points:   {counts['static_points']} static, {counts['dynamic_points']} dynamic",
        f"time:     {sum(timings.values()):.1f} s ("
        + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in timings.items())
        + ")",
    ]
    if "solve" in manifest:
        solve = manifest["solve"]
        errors, lens = solve["reprojection_error_px"], solve["distortion"]
        lines.append(
            f"solve:    median {errors['median']:.3f} px, p90 {errors['p90']:.3f} px, "
            f"{solve['tracks']} tracks; k1 {lens['k1']:.4f} k2 {lens['k2']:.4f} "
            f"k3 {lens['k3']:.4f}"
        )
        warning = describe_lens_check(solve)
        if warning:
            lines.append(f"lens:     WARNING {warning}")
        switch = describe_focal_switch(solve)
        if switch:
            lines.append(f"focal:    WARNING {switch}")
        locked = describe_locked_off(solve)
        if locked:
            lines.append(f"camera:   {locked}")
        focal_note = describe_focal(solve)
        if focal_note:
            lines.append(f"focal:    {focal_note}")
        if "smoothing" in solve:
            lines.append(f"smoothed: {describe_smoothing(solve['smoothing'])}")
        coverage = describe_connectivity(solve, frames)
        if coverage:
            lines.append(f"coverage: {coverage}")
    else:
        lines.append("solve:    none (network cameras)")
    chunking = manifest.get("chunking")
    if chunking:
        worst = max(chunking["seams"], key=lambda seam: seam["relative_residual"])
        lines.append(
            f"chunks:   {len(chunking['chunks'])} of {chunking['chunk_size']} frames, overlap "
            f"{chunking['overlap']}; worst seam at frame {worst['frame']} "
            f"({worst['relative_residual']:.1%} of the overlap's size)"
        )
    print("\n".join(lines))
    return 0


def _eval(arguments: argparse.Namespace) -> int:
    try:
        from vggt4d.eval.command import evaluate_bundle
    except ModuleNotFoundError as error:
        print(f"error: vggt4d eval needs {error.name}: pip install 'vggt4d[eval]'", file=sys.stderr)
        return 2
    if arguments.dataset:
        if not arguments.root:
            print("error: --dataset needs --root (the benchmark's folder)", file=sys.stderr)
            return 2
        from vggt4d.batch.cluster import require_ray

        require_ray()  # before torch loads: a missing Ray is said at once
        from vggt4d.eval.benchmark import run_benchmark

        bar = _ProgressBar()
        try:
            table = run_benchmark(
                arguments.dataset, arguments.root, arguments.output, _job_options(arguments),
                _batch_settings(arguments), bar.update, log=bar.log,
            )  # fmt: skip
        finally:
            bar.finish()
        print(table)
        return 0
    if not (arguments.bundle and arguments.gt):
        print("error: give BUNDLE --gt PATH, or --dataset NAME --root DIR", file=sys.stderr)
        return 2
    result = evaluate_bundle(
        arguments.bundle, arguments.gt, arguments.layout, arguments.sequence, arguments.output,
        arguments.mask_resolution,
    )  # fmt: skip
    print(result.table)
    print(f"report: {result.written[0].parent}")
    return 0


def _clock(seconds: float) -> str:
    """12:34 under an hour, 1:02:03 from an hour on."""
    pattern = "%H:%M:%S" if seconds >= 3600 else "%M:%S"
    return time.strftime(pattern, time.gmtime(seconds))


class _ProgressBar:
    """A one-line progress bar on stderr; on a pipe, one line per stage instead."""

    def __init__(self) -> None:
        self._interactive = sys.stderr.isatty()
        self._stage = ""
        self._drawn = False

    def update(self, update: "ProgressUpdate") -> None:
        stage, fraction, eta = update.stage, update.fraction, update.eta_s
        if update.chunk is not None:
            stage = f"chunk {update.chunk}/{update.chunks}"
        if not self._interactive:
            if stage != self._stage:
                remaining = "" if eta is None else f", ETA {_clock(eta)}"
                print(f"[{fraction:4.0%}] {stage}{remaining}", file=sys.stderr, flush=True)
            self._stage = stage
            return
        self._drawn = True
        filled = round(fraction * _BAR_WIDTH)
        remaining = "" if eta is None else f" ETA {_clock(eta)}"
        line = f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {fraction:4.0%} {stage:<13}"
        print(line + remaining.ljust(10), end="", file=sys.stderr, flush=True)

    def log(self, level: str, message: str) -> None:
        if level == "warning":
            self.finish()
            print(f"warning: {message}", file=sys.stderr, flush=True)

    def finish(self) -> None:
        """End the bar's line so that what follows starts on a fresh one."""
        if self._drawn:
            print(file=sys.stderr)
            self._drawn = False
