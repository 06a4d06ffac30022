# Runs train_fashion_mnist for one CTest case: cmake -DTRAINER=... -DCASE=... -DWORK=dir -P check_trainer_cli.cmake
# Bad command lines must exit with 2, print the usage on stderr and write nothing.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(save --save ${WORK}/model.tnet --plots ${WORK}/plots)
if(CASE STREQUAL "unknown_flag")
  set(args --epochs 1 --frobnicate ${save})
elseif(CASE STREQUAL "missing_value")
  set(args ${save} --epochs)
elseif(CASE STREQUAL "non_numeric")
  set(args --epochs ten ${save})
elseif(CASE STREQUAL "zero_epochs")
  set(args --epochs 0 ${save})
elseif(CASE STREQUAL "zero_batch")
  set(args --batch 0 ${save})
elseif(CASE STREQUAL "negative_lr")
  set(args --lr -0.1 ${save})
elseif(CASE STREQUAL "missing_data")
  set(args --data ${WORK}/no-such-dir ${save})
elseif(CASE STREQUAL "zero_lr")
  set(args --lr 0 ${save})
elseif(CASE STREQUAL "negative_epochs")
  set(args --epochs -1 ${save})
elseif(CASE STREQUAL "negative_batch")
  set(args --batch -32 ${save})
elseif(CASE STREQUAL "zero_clip_norm")
  set(args --clip-norm 0 ${save})
elseif(CASE STREQUAL "clip_norm_missing_value")
  set(args ${save} --clip-norm)
elseif(CASE STREQUAL "check_finite_with_value")
  set(args --check-finite=yes ${save})
elseif(CASE STREQUAL "unknown_model")
  set(args --model resnet ${save})
elseif(CASE STREQUAL "patience_without_validation")
  set(args --patience 3 ${save})
elseif(CASE STREQUAL "unknown_schedule")
  set(args --schedule linear ${save})
elseif(CASE STREQUAL "gamma_above_one")
  set(args --schedule step --gamma 2 ${save})
elseif(CASE STREQUAL "negative_weight_decay")
  set(args --weight-decay -0.01 ${save})
elseif(CASE STREQUAL "unknown_optimizer")
  set(args --optimizer lion ${save})
elseif(CASE STREQUAL "warmup_of_whole_cosine")
  set(args --epochs 3 --schedule cosine --warmup 3 ${save})
elseif(CASE STREQUAL "regularised_run")
  # AdamW, a cosine schedule after a warm-up, a validation split and early stopping: every epoch line shows
  # the validation loss and accuracy and the learning rate, and the best epoch's weights are kept (the saved
  # model evaluates to the accuracy the run reported).
  execute_process(COMMAND ${TRAINER} --optimizer adamw --schedule cosine --warmup 1 --epochs 4 --validation 300
                          --patience 1 --train-limit 1500 --test-limit 200 --seed 3 ${save}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "training mlp: adamw, lr 0.001, batch 32, 4 epochs, seed 3, weight decay 0.01, cosine schedule, 1 warm-up epochs, early stopping after 1 epochs"
     OR NOT out MATCHES "data: 1200 training, 300 validation and 200 test images"
     OR NOT out MATCHES "epoch 1/4  train loss [0-9.]+  train acc [0-9.]+%  val loss [0-9.]+  val acc [0-9.]+%  test acc [0-9.]+%  lr 0.0005 "
     OR NOT out MATCHES "kept the weights of epoch [1-4] \\(validation loss [0-9.]+\\)")
    message(FATAL_ERROR "regularised run failed (exit ${rc}):\n${out}\n${err}")
  endif()
  execute_process(COMMAND ${TRAINER} --load ${WORK}/model.tnet --epochs 0 --test-limit 200
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err)
  string(REGEX MATCH "test accuracy [0-9.]+%" first "${out}")
  string(REGEX MATCH "test accuracy [0-9.]+%" second "${out2}")
  if(NOT rc EQUAL 0 OR NOT first STREQUAL second OR first STREQUAL "")
    message(FATAL_ERROR "the kept weights evaluate differently (exit ${rc}, '${first}' vs '${second}'):\n${out2}\n${err}")
  endif()
  return()
elseif(CASE STREQUAL "two_loads")
  set(args --load ${WORK}/a.tnet --load-safetensors ${WORK}/b.safetensors ${save})
elseif(CASE STREQUAL "safetensors_round_trip")
  # Weights saved as safetensors evaluate to the same accuracy; LeNet's file is refused by the MLP, naming
  # the tensor and both shapes.
  execute_process(COMMAND ${TRAINER} --epochs 1 --train-limit 300 --test-limit 100 --seed 1
                          --save-safetensors ${WORK}/mlp.safetensors
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/mlp.safetensors)
    message(FATAL_ERROR "training run failed (exit ${rc}):\n${out}\n${err}")
  endif()
  execute_process(COMMAND ${TRAINER} --load-safetensors ${WORK}/mlp.safetensors --epochs 0 --test-limit 100
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err)
  string(REGEX MATCH "test accuracy [0-9.]+%" first "${out}")
  string(REGEX MATCH "test accuracy [0-9.]+%" second "${out2}")
  if(NOT rc EQUAL 0 OR NOT first STREQUAL second OR first STREQUAL "")
    message(FATAL_ERROR "evaluating the safetensors file failed (exit ${rc}, '${first}' vs '${second}'):\n${out2}\n${err}")
  endif()
  execute_process(COMMAND ${TRAINER} --model lenet --epochs 1 --train-limit 64 --test-limit 10 --quiet
                          --save-safetensors ${WORK}/lenet.safetensors
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  execute_process(COMMAND ${TRAINER} --load-safetensors ${WORK}/lenet.safetensors --epochs 0 --test-limit 10
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out3 ERROR_VARIABLE err)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "lenet.safetensors: tensor 0.weight \\(layer 0, Dense<784, 256>\\): file has shape \\[6, 1, 5, 5\\], network has \\[256, 784\\]")
    message(FATAL_ERROR "the MLP loaded LeNet's safetensors (exit ${rc}):\n${out3}\n${err}")
  endif()
  return()
elseif(CASE STREQUAL "pytorch_weights")
  # PyTorch's MLP (tests/pytorch_interop.py export, run by CTest first) evaluates to PyTorch's accuracy.
  execute_process(COMMAND ${TRAINER} --load-safetensors ${INTEROP}/torch_mlp.safetensors --epochs 0
                          --test-limit 1000 --quiet
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(READ ${INTEROP}/torch_mlp.accuracy expected)
  string(STRIP "${expected}" expected)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "test accuracy ${expected}% on 1000 images")
    message(FATAL_ERROR "PyTorch's MLP: expected test accuracy ${expected}% (exit ${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "PyTorch's MLP in the trainer: ${out}")
  return()
elseif(CASE STREQUAL "diverging")
  # A learning rate so large that the logits overflow float: with --check-finite the run stops at the first
  # Inf or NaN with the NonFiniteError (step, layer, row, column) on stderr, exit 1, and saves nothing. (The
  # sigmoid layers saturate, so this network stays finite up to about --lr 1e35, and from 1e36 the loss
  # overflows before any layer does; at 3e38 the first update alone overflows the last layer's output.)
  execute_process(COMMAND ${TRAINER} --epochs 1 --batch 32 --train-limit 512 --test-limit 100 --lr 3e38
                          --check-finite --quiet ${save}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "diverging: expected exit code 1, got ${rc}\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(NOT err MATCHES "^train_fashion_mnist: typenet: (NaN|Inf) in [^\n]*layer [0-9] \\(Dense<[^\n]* at row [0-9]+, column [0-9]+, training step [0-9]+ ")
    message(FATAL_ERROR "diverging: no NonFiniteError naming the step and the layer on stderr: ${err}")
  endif()
  if(EXISTS ${WORK}/model.tnet OR EXISTS ${WORK}/model.tnet.tmp OR EXISTS ${WORK}/plots)
    message(FATAL_ERROR "diverging: a run that stopped on NaN or Inf wrote files")
  endif()
  message(STATUS "diverging: exit 1 as expected: ${err}")
  return()
elseif(CASE STREQUAL "odd_batch_run")
  # A batch size that is not compiled in trains as steps of a run-time size: 300 images, 9 steps of 33 and 1 of 3.
  execute_process(COMMAND ${TRAINER} --epochs 1 --batch 33 --train-limit 300 --test-limit 100 --seed 1
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "training mlp: sgd, lr 0.1, batch 33, 1 epochs" OR NOT out MATCHES "test accuracy [0-9.]+% on 100 images")
    message(FATAL_ERROR "a run at batch 33 failed (exit ${rc}):\n${out}\n${err}")
  endif()
  return()
elseif(CASE STREQUAL "small_run")
  execute_process(COMMAND ${TRAINER} --epochs 1 --batch 32 --train-limit 300 --test-limit 100 --seed 1 ${save}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/model.tnet OR NOT EXISTS ${WORK}/plots/gradient_flow.svg)
    message(FATAL_ERROR "training run failed (exit ${rc}):\n${out}\n${err}")
  endif()
  execute_process(COMMAND ${TRAINER} --load ${WORK}/model.tnet --epochs 0 --test-limit 100
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err)
  string(REGEX MATCH "test accuracy [0-9.]+%" first "${out}")
  string(REGEX MATCH "test accuracy [0-9.]+%" second "${out2}")
  if(NOT rc EQUAL 0 OR NOT first STREQUAL second OR first STREQUAL "")
    message(FATAL_ERROR "evaluating the saved model failed (exit ${rc}, '${first}' vs '${second}'):\n${out2}\n${err}")
  endif()
  return()
elseif(CASE STREQUAL "lenet_small_run")
  # LeNet-5 trains, saves and evaluates its model again; the MLP refuses that model, naming the layer.
  execute_process(COMMAND ${TRAINER} --model lenet --epochs 1 --train-limit 256 --test-limit 100 --seed 1 ${save}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/model.tnet OR NOT out MATCHES "training lenet: adam, lr 0.001, batch 64")
    message(FATAL_ERROR "lenet training run failed (exit ${rc}):\n${out}\n${err}")
  endif()
  execute_process(COMMAND ${TRAINER} --model lenet --load ${WORK}/model.tnet --epochs 0 --test-limit 100
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err)
  string(REGEX MATCH "test accuracy [0-9.]+%" first "${out}")
  string(REGEX MATCH "test accuracy [0-9.]+%" second "${out2}")
  if(NOT rc EQUAL 0 OR NOT first STREQUAL second OR first STREQUAL "")
    message(FATAL_ERROR "evaluating the saved LeNet failed (exit ${rc}, '${first}' vs '${second}'):\n${out2}\n${err}")
  endif()
  execute_process(COMMAND ${TRAINER} --load ${WORK}/model.tnet --epochs 0 --test-limit 100
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out3 ERROR_VARIABLE err)
  if(NOT rc EQUAL 1 OR NOT err MATCHES "layer 0: file has Input<1, 28, 28>, network has Dense<784, 256>")
    message(FATAL_ERROR "the MLP loaded a LeNet model (exit ${rc}):\n${out3}\n${err}")
  endif()
  return()
else()
  message(FATAL_ERROR "unknown case ${CASE}")
endif()

execute_process(COMMAND ${TRAINER} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 2)
  message(FATAL_ERROR "${CASE}: expected exit code 2, got ${rc}\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT err MATCHES "usage: train_fashion_mnist")
  message(FATAL_ERROR "${CASE}: no usage message on stderr: ${err}")
endif()
if(EXISTS ${WORK}/model.tnet OR EXISTS ${WORK}/model.tnet.tmp OR EXISTS ${WORK}/plots)
  message(FATAL_ERROR "${CASE}: a bad command line wrote files")
endif()
message(STATUS "${CASE}: exit 2 as expected: ${err}")
