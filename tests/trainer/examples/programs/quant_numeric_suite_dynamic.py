# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials prototype_source/numeric_suite_tutorial.py, its eager-mode "Numeric Suite for Dynamic
Quantization" part (the static part needs torchvision's pretrained quantizable ResNet18), shortened: a small LSTM
model (the tutorial's is 512/256 wide, 5 layers), section 1 (compare_weights and the SQNR of each weight)."""

import torch
import torch.nn as nn
import torch.quantization
import torch.quantization._numeric_suite as ns


class LSTMModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super(LSTMModel, self).__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)

        self.init_weights()

        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        self.encoder.weight.data.uniform_(-initrange, initrange)
        self.decoder.bias.data.zero_()
        self.decoder.weight.data.uniform_(-initrange, initrange)

    def forward(self, input, hidden):
        emb = self.encoder(input)
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(output)
        return decoded, hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def compute_error(x, y):
    Ps = torch.norm(x)
    Pn = torch.norm(x-y)
    return 20*torch.log10(Ps/Pn)


ntokens = 10


def build():
    float_model = LSTMModel(
        ntoken = ntokens,
        ninp = 32,
        nhid = 16,
        nlayers = 2,
    )
    float_model.eval()
    return float_model


def compare_weights(float_model):
    qmodel = torch.quantization.quantize_dynamic(
        float_model, {nn.LSTM, nn.Linear}, dtype=torch.qint8
    )
    wt_compare_dict = ns.compare_weights(float_model.state_dict(), qmodel.state_dict())
    errors = {}
    for key in wt_compare_dict:
        if wt_compare_dict[key]['quantized'].is_quantized:
            errors[key] = compute_error(wt_compare_dict[key]['float'], wt_compare_dict[key]['quantized'].dequantize())
        else:
            errors[key] = compute_error(wt_compare_dict[key]['float'], wt_compare_dict[key]['quantized'])
        print(key, errors[key])
    return errors
