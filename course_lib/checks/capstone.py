"""The classic mistakes of lesson 13's exercise: a training recipe (an optimizer by name, its
hyperparameters, a batch size and a number of epochs) that must reach a target validation
accuracy within a budget."""

from .mistakes import ExerciseMistake, register_exercise_mistakes


def _recipe(optimizer: str, *, batch_size: int = 32, epochs: int = 2, **hyperparameters):
    def choose_training():
        return {"optimizer": optimizer, "hyperparameters": hyperparameters, "batch_size": batch_size,
                "epochs": epochs}
    return choose_training


register_exercise_mistakes("choose_training", [
    ExerciseMistake(
        "recipe-untuned-default-lr", "kept the library's default learning rate",
        "torch's defaults are starting points, not tuned values: look at the sweep for the learning rate "
        "that did best within a small budget.",
        _recipe("Adam")),
    ExerciseMistake(
        "recipe-over-budget", "spends more than the budget allows",
        "Count the epochs and check the batch size against the limits stated in the exercise.",
        _recipe("Adam", epochs=5, lr=0.01)),
    ExerciseMistake(
        "recipe-picked-on-one-seed", "picked the learning rate that won on one seed",
        "A setting at the edge of blowing up can win on one seed and lose on others: prefer the one whose "
        "mean over seeds is high and whose spread is small.",
        _recipe("SGD", lr=0.3)),
])
