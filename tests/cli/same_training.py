"""Do two runs of one plan (metrics.jsonl lines) train alike? The check of the parallel runs
(data-, context-parallel, MPI) against one rank: the first 20 steps agree within 1e-5 relative;
later the runs drift apart as training amplifies the different rounding, but every stage's last
quarter of steps has the same mean loss within 5%."""


def check_same_training(reference, other, stages, name, check):
    early = max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(reference[:20], other[:20]))
    print(f"{name} vs one rank: largest relative loss difference over the first 20 steps {early:.2e}")
    check(early < 1e-5, f"{name} differs from one rank in the first 20 steps: {early}")
    for s in stages:
        tail = max(1, s["steps"] // 4)
        ends = [sum(m["loss"] for m in run if m["stage"] == s["name"] and m["step"] > s["steps"] - tail) / tail
                for run in (reference, other)]
        check(abs(ends[0] - ends[1]) / ends[0] < 0.05, f"{s['name']}: final losses {ends}, one rank and {name}")
