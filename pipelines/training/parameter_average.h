// An exponential moving average of the trainable parameters (Polyak averaging), kept beside them:
// validation and what is kept as the best see the average, training goes on from the raw weights.
// With high dropout the weights at any one step are a noisy draw around where training is heading;
// the average is that place, and it moves slowly enough that the best validation is less a matter
// of which step happened to land on a good draw.
//
// The decay follows TensorFlow's ExponentialMovingAverage with num_updates: min(decay, (1 + n) /
// (10 + n)) after update n, so that the first updates are not held back by the initial weights.
// The averages are part of the training state (a resumed run is the uninterrupted one, bit for bit).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace llamarec {

class ParameterAverage {
 public:
  // Starts at the parameters' current values. decay in (0, 1).
  ParameterAverage(std::map<std::string, torch::Tensor> parameters, double decay);

  // Folds in the parameters after update number `updates` (1 for the first).
  void update(int64_t updates);
  // The decay applied by update number `updates`.
  double decay_at(int64_t updates) const;

  // The averages under checkpoint names ("average.<parameter name>"), to be saved and restored with
  // the parameters.
  std::map<std::string, torch::Tensor> named_averages() const;

  // While alive, the parameters hold the averages; the trained values are put back on destruction.
  class Applied {
   public:
    explicit Applied(ParameterAverage& average);
    ~Applied();
    Applied(const Applied&) = delete;
    Applied& operator=(const Applied&) = delete;

   private:
    ParameterAverage& average_;
    std::map<std::string, torch::Tensor> trained_;
  };

 private:
  std::map<std::string, torch::Tensor> parameters_;
  std::map<std::string, torch::Tensor> averages_;
  double decay_;
};

}  // namespace llamarec
