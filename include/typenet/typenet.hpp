// typenet: neural networks whose shapes are types. This header gives everything.
#pragma once

// The checks come first so that their errors show the shortest include chain.
#include "typenet/network/io_checks.hpp"
#include "typenet/network/shape_check.hpp"

#include "typenet/core/matrix.hpp"
#include "typenet/graph/nodes.hpp"
#include "typenet/introspect/dimension_flow.hpp"
#include "typenet/introspect/gradient_check.hpp"
#include "typenet/io/idx.hpp"
#include "typenet/io/model_file.hpp"
#include "typenet/io/safetensors.hpp"
#include "typenet/io/svg_plot.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/conv2d.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/input.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/layers/max_pool2d.hpp"
#include "typenet/network/network.hpp"
#include "typenet/train/epoch.hpp"
#include "typenet/train/evaluate.hpp"
#include "typenet/train/optimizers.hpp"
#include "typenet/train/schedule.hpp"
#include "typenet/train/trainer.hpp"
#include "typenet/train/validation.hpp"
