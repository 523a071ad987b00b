"""Known equivalent mutants of :mod:`bench.mutation`: id -> why it behaves like the solution.

A mutant is equivalent when it gives the solution's results on every input the exercise's
docstring allows (a float array where it says so, a state made by ``init`` and earlier steps),
so no test can or should kill it. Only a mutant that keeps full marks is counted as equivalent;
one listed here that a test kills is reported as a warning (a test rejecting a correct answer,
or a wrong entry). Ids are printed by the tool and stay stable while a solution's code does.

(The leading underscore keeps ``python -m bench``, which runs every module's ``main``, off it.)
"""

EQUIVALENT: dict[str, str] = {
    # 00 numerical_gradient: theta is a float array (docstring); every entry of gradient is assigned.
    "numerical_gradient:1:sign:`np.zeros_like(theta, dtype=float)` -> its negative":
        "every entry of gradient is assigned in the loop, so the -0.0 start never shows",
    "numerical_gradient:1:drop-keyword:`dtype=` dropped from `np.zeros_like(theta, dtype=float)`":
        "theta is a float array by the docstring, so zeros_like(theta) is already float",
    "numerical_gradient:3:sign:`np.zeros_like(theta, dtype=float)` -> its negative":
        "theta + (-0.0) and theta - (-0.0) equal theta (up to the sign of a zero) in the untouched coordinates",
    "numerical_gradient:3:drop-keyword:`dtype=` dropped from `np.zeros_like(theta, dtype=float)`":
        "theta is a float array by the docstring, so the shift is already float",
    # 00 run_gradient_descent
    "run_gradient_descent:3:swap-arguments:arguments 2 and 3 of `gradient_descent_step(points[-1], grad_fn(poi...`":
        "gradient_descent_step(theta, lr, grad) computes theta - grad * lr: the same product, bit for bit",
    "run_gradient_descent:1:remove-copy:`np.array(start, dtype=float)` -> the original":
        "start is a float array by the contract; np.array(points) copies the rows, so nothing aliases it",
    "run_gradient_descent:1:drop-keyword:`dtype=` dropped from `np.array(start, dtype=float)`":
        "start is a float array by the contract, so np.array(start) is already float",
    # 05: torch refuses Nesterov with momentum 0, so a call that leaves momentum to its default is invalid.
    "nesterov_update:def:default:momentum=0.0 -> 1.0":
        "SGD(nesterov=True) needs momentum > 0 (torch raises otherwise): no valid call uses this default",
    # 01
    "mse_gradient:2:drop-call:`float(np.mean(residuals))` -> `np.mean(residuals)`":
        "np.mean gives a np.float64, a subclass of float with the same value",
    "batch_gradient_descent:1:swap-arguments:operands of `X @ w + b - y`":
        "the residual's sign is squared away: (a - b)**2 == (b - a)**2 exactly in floating point",
    "batch_gradient_descent:5:swap-arguments:operands of `X @ w + b - y`":
        "the residual's sign is squared away: (a - b)**2 == (b - a)**2 exactly in floating point",
    # 05 nesterov_update
    "nesterov_update:3:constant:1 -> 0":
        "step is never 0, so step 1 takes the momentum branch: momentum * (init's zero buffer) + g == g",
    # 06 adagrad_update
    "adagrad_update:def:default:initial_accumulator_value=0.0 -> 1.0":
        "the update never reads initial_accumulator_value (it only sets where init starts the sum)",
    # 10, 12: np.maximum is symmetric, NaN included
    "adamax_update:5:swap-arguments:arguments 1 and 2 of `np.maximum(beta2 * state['exp_inf'], np.abs(g...`":
        "np.maximum(a, b) == np.maximum(b, a), NaN propagated either way",
    "amsgrad_update:9:swap-arguments:arguments 1 and 2 of `np.maximum(state['max_exp_avg_sq'], exp_avg_sq)`":
        "np.maximum(a, b) == np.maximum(b, a), NaN propagated either way",
    # 13 warmup_cosine, one_cycle: cos is even, and the two branches meet at the boundary.
    "warmup_cosine:1:comparison:<= -> < in `t <= warmup`":
        "at t = warmup the cosine branch gives floor + (peak - floor) * (1 + cos 0) / 2 = peak, as the warm-up does",
    "warmup_cosine:3:sign:`(t - warmup) / (total - warmup)` -> its negative":
        "cos(-x) == cos(x) exactly in floating point",
    "warmup_cosine:3:swap-arguments:operands of `t - warmup`":
        "negates the cosine's argument: cos(-x) == cos(x) exactly",
    "warmup_cosine:3:swap-arguments:operands of `total - warmup`":
        "negates the cosine's argument: cos(-x) == cos(x) exactly",
    "one_cycle:5:comparison:<= -> < in `step <= end_of_rise`":
        "at step = end_of_rise the rise ends at max_lr and the fall starts at max_lr: the same number",
    "one_cycle:8:swap-arguments:operands of `step - end_of_rise`":
        "negates the cosine's argument: cos(-x) == cos(x) exactly",
    "one_cycle:8:swap-arguments:operands of `total - 1 - end_of_rise`":
        "negates the cosine's argument: cos(-x) == cos(x) exactly",
    # 14 choose_training: any recipe within the budget that reaches the target is right
    "choose_training:2:constant:0.03 -> 0.045":
        "still a recipe within the budget whose mean accuracy over the fixed seeds reaches 0.96 (deterministic)",
    "choose_training:2:constant:32 -> 31":
        "still a recipe within the budget whose mean accuracy over the fixed seeds reaches 0.96 (deterministic)",
    "choose_training:2:constant:32 -> 33":
        "still a recipe within the budget whose mean accuracy over the fixed seeds reaches 0.96 (deterministic)",
}
