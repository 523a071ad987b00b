"""Correct rewrites of train_epochs (15_torch_optim): see README.md."""

# rewrite: clear-after-step: gradients cleared once before training and again after every step
def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
    losses = []
    zero_grad()
    for _ in range(epochs):
        for batch in batches:
            losses.append(backward(batch))
            step()
            zero_grad()
        scheduler_step()
    return losses

# rewrite: while-loops: indices instead of iteration
def train_epochs(batches, epochs, zero_grad, backward, step, scheduler_step):
    batches = list(batches)
    losses, epoch = [], 0
    while epoch < epochs:
        index = 0
        while index < len(batches):
            zero_grad()
            loss = backward(batches[index])
            step()
            losses.append(loss)
            index += 1
        scheduler_step()
        epoch += 1
    return losses
