# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials beginner_source/nlp/deep_learning_tutorial.py (affine maps, non-linearities, softmax, and the
logistic-regression bag-of-words classifier), with the training loop in ``main``."""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

torch.manual_seed(1)


def building_blocks():
    lin = nn.Linear(5, 3)  # maps from R^5 to R^3, parameters A, b
    data = torch.randn(2, 5)
    seen = [tuple(lin(data).shape)]
    data = torch.tensor([[-0.5, 1.25, 0.0], [2.0, -3.0, 0.25]])
    seen.append(F.relu(data))
    data = torch.tensor([1.5, -0.2, 0.3, 2.0, -1.0])
    seen.append(F.softmax(data, dim=0))
    seen.append(F.softmax(data, dim=0).sum())
    seen.append(F.log_softmax(data, dim=0))
    return seen


data = [("me gusta comer en la cafeteria".split(), "SPANISH"),
        ("Give it to me".split(), "ENGLISH"),
        ("No creo que sea una buena idea".split(), "SPANISH"),
        ("No it is not a good idea to get lost at sea".split(), "ENGLISH")]

test_data = [("Yo creo que si".split(), "SPANISH"),
             ("it is lost on me".split(), "ENGLISH")]

word_to_ix = {}
for sent, _ in data + test_data:
    for word in sent:
        if word not in word_to_ix:
            word_to_ix[word] = len(word_to_ix)

VOCAB_SIZE = len(word_to_ix)
NUM_LABELS = 2


class BoWClassifier(nn.Module):  # inheriting from nn.Module!

    def __init__(self, num_labels, vocab_size):
        super(BoWClassifier, self).__init__()
        self.linear = nn.Linear(vocab_size, num_labels)

    def forward(self, bow_vec):
        return F.log_softmax(self.linear(bow_vec), dim=1)


def make_bow_vector(sentence, word_to_ix):
    vec = torch.zeros(len(word_to_ix))
    for word in sentence:
        vec[word_to_ix[word]] += 1
    return vec.view(1, -1)


def make_target(label, label_to_ix):
    return torch.LongTensor([label_to_ix[label]])


label_to_ix = {"SPANISH": 0, "ENGLISH": 1}


def main(model, epochs=20):
    for param in model.parameters():
        print(param)

    with torch.no_grad():
        sample = data[0]
        bow_vector = make_bow_vector(sample[0], word_to_ix)
        log_probs = model(bow_vector)
        print(log_probs)

    before = []
    with torch.no_grad():
        for instance, label in test_data:
            bow_vec = make_bow_vector(instance, word_to_ix)
            log_probs = model(bow_vec)
            before.append(log_probs)

    # Print the matrix column corresponding to "creo"
    print(next(model.parameters())[:, word_to_ix["creo"]])

    loss_function = nn.NLLLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    losses = []
    for epoch in range(epochs):
        for instance, label in data:
            model.zero_grad()
            bow_vec = make_bow_vector(instance, word_to_ix)
            target = make_target(label, label_to_ix)
            log_probs = model(bow_vec)
            loss = loss_function(log_probs, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    after = []
    with torch.no_grad():
        for instance, label in test_data:
            bow_vec = make_bow_vector(instance, word_to_ix)
            log_probs = model(bow_vec)
            after.append(log_probs)

    # Index corresponding to Spanish goes up, English goes down!
    creo = next(model.parameters())[:, word_to_ix["creo"]]
    return losses, before, after, creo
