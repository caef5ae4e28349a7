# ruff: noqa - a faithful copy of an upstream PyTorch program: its own style is what is being tested
"""pytorch/tutorials recipes_source/recipes/dynamic_quantization.py: a one-layer LSTM quantized dynamically, sizes
and outputs compared. Shortened only where it writes files (a temporary folder instead of the working directory) and
by returning what it prints."""

import copy
import os
import tempfile

import torch
import torch.quantization
import torch.nn as nn


class lstm_for_demonstration(nn.Module):
  """Elementary Long Short Term Memory style model which simply wraps nn.LSTM
     Not to be used for anything other than demonstration.
  """
  def __init__(self,in_dim,out_dim,depth):
     super(lstm_for_demonstration,self).__init__()
     self.lstm = nn.LSTM(in_dim,out_dim,depth)

  def forward(self,inputs,hidden):
     out,hidden = self.lstm(inputs,hidden)
     return out, hidden


#shape parameters
model_dimension=8
sequence_length=20
batch_size=1
lstm_depth=1


def quantize(float_lstm):
    # this is the call that does the work
    quantized_lstm = torch.quantization.quantize_dynamic(
        float_lstm, {nn.LSTM, nn.Linear}, dtype=torch.qint8
    )
    return quantized_lstm, str(float_lstm), str(quantized_lstm)


def print_size_of_model(model, label=""):
    path = os.path.join(tempfile.mkdtemp(), "temp.p")
    torch.save(model.state_dict(), path)
    size=os.path.getsize(path)
    print("model: ",label,' \t','Size (KB):', size/1e3)
    os.remove(path)
    return size


def look_at_accuracy(float_lstm, quantized_lstm, inputs, hidden):
    # run the float model
    out1, hidden1 = float_lstm(inputs, hidden)
    mag1 = torch.mean(abs(out1)).item()
    print('mean absolute value of output tensor values in the FP32 model is {0:.5f} '.format(mag1))

    # run the quantized model
    out2, hidden2 = quantized_lstm(inputs, hidden)
    mag2 = torch.mean(abs(out2)).item()
    print('mean absolute value of output tensor values in the INT8 model is {0:.5f}'.format(mag2))

    # compare them
    mag3 = torch.mean(abs(out1-out2)).item()
    print('mean absolute value of the difference between the output tensors is {0:.5f} or {1:.2f} percent'.format(mag3,mag3/mag1*100))
    return out2, hidden2, mag1, mag2, mag3
