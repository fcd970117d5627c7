"""Do two layouts of one plan (one rank, and data-, context-parallel or MPI ranks) train alike?

check_same_training: the whole plan's first 20 steps (metrics.jsonl lines) agree within 1e-5
relative. Later the runs part, as training amplifies the different rounding of their sums, so
later stages are compared from one start instead:

check_stages_from_one_start: every stage after the first, run alone (a one-stage plan) from the
one-rank run's weights at that stage's start (--init), on one rank and in the other layout; their
first 10 losses agree within 1e-5 relative. (An earlier check compared each stage's last-quarter
mean loss within 5%; two runs that differ only in rounding had drifted 3.7%, 4.9% and 6.4% apart
there by the last stage, so that measured the drift, not the layout.)
"""
import json
import os

EARLY_STEPS = 20
STAGE_STEPS = 10
TOLERANCE = 1e-5


def largest_relative_difference(reference, other, steps):
    return max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(reference[:steps], other[:steps]))


def check_same_training(reference, other, name, check):
    early = largest_relative_difference(reference, other, EARLY_STEPS)
    print(f"{name} vs one rank: largest relative loss difference over the first {EARLY_STEPS} steps {early:.2e}")
    check(early < TOLERANCE, f"{name} differs from one rank in the first {EARLY_STEPS} steps: {early}")


def one_stage_plans(plan, reference_out, work):
    """(stage name, one-stage plan path, --init directory) for every stage after the first."""
    out = []
    for previous, stage in zip(plan["stages"], plan["stages"][1:]):
        alone = {k: v for k, v in plan.items() if k not in ("stages", "eval")}
        alone["stages"] = [stage]
        path = os.path.join(work, f"alone_{stage['name']}.json")
        with open(path, "w") as f:
            json.dump(alone, f)
        out.append((stage["name"], path, os.path.join(reference_out, "stages", previous["name"], "final")))
    return out


def check_stages_from_one_start(train, plan, reference_out, work, layouts, check):
    """train(label, plan_path, init_dir, layout) runs `lsk train` and returns its metrics lines
    (None when it failed); layouts: the names of the layouts to compare with "one rank"."""
    for stage, plan_path, init in one_stage_plans(plan, reference_out, work):
        reference = train(f"{stage}_one_rank", plan_path, init, "one rank")
        if reference is None:
            check(False, f"{stage} alone on one rank failed")
            continue
        for layout in layouts:
            other = train(f"{stage}_{layout.strip('-').replace(' ', '_')}", plan_path, init, layout)
            if other is None:
                check(False, f"{stage} alone, {layout}: failed")
                continue
            steps = min(STAGE_STEPS, len(reference))
            diff = largest_relative_difference(reference, other, steps)
            print(f"{stage} from one start, {layout} vs one rank: largest relative loss difference over {steps} "
                  f"steps {diff:.2e}")
            check(len(other) == len(reference) and diff < TOLERANCE,
                  f"{stage} from one start: {layout} differs from one rank ({diff}, {len(other)} vs "
                  f"{len(reference)} steps)")
