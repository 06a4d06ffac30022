# Runs train_fashion_mnist data-parallel for one CTest case:
#   cmake -DMPIRUN="mpirun;--allow-run-as-root;--oversubscribe" -DTRAINER=... -DDATA=dir -DCASE=... -DWORK=dir -P check_trainer_mpi.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
if(CASE STREQUAL "small_run")
  # Two processes train with the same flags as one, at a batch size not compiled in: one report (rank 0's),
  # one saved model, which a single process then evaluates to the same accuracy.
  execute_process(COMMAND ${MPIRUN} -np 2 ${TRAINER} --epochs 1 --batch 50 --train-limit 1000 --test-limit 200
                          --seed 1 --save ${WORK}/model.tnet
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 240)
  string(REGEX MATCHALL "test accuracy [0-9.]+% on 200 images" reports "${out}")
  list(LENGTH reports count)
  if(NOT rc EQUAL 0 OR NOT count EQUAL 1 OR NOT EXISTS ${WORK}/model.tnet OR EXISTS ${WORK}/model.tnet.tmp
     OR NOT out MATCHES "allreduce [0-9]+ us of [0-9]+ us a step on 2 processes")
    message(FATAL_ERROR "2-process run failed (exit ${rc}, ${count} reports):\n${out}\n${err}")
  endif()
  list(GET reports 0 first)
  execute_process(COMMAND ${TRAINER} --load ${WORK}/model.tnet --epochs 0 --test-limit 200 --quiet
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out2 MATCHES "${first}")
    message(FATAL_ERROR "the saved model does not evaluate to '${first}' (exit ${rc}):\n${out2}\n${err}")
  endif()
  message(STATUS "small_run: ${first} on 2 processes and again from the saved model")
elseif(CASE STREQUAL "bad_data_on_one_rank")
  # Rank 1 reads a truncated training-image file: the whole job ends, non-zero, with that file's name.
  file(MAKE_DIRECTORY ${WORK}/bad)
  foreach(name train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
    file(CREATE_LINK ${DATA}/${name}.gz ${WORK}/bad/${name}.gz SYMBOLIC)
  endforeach()
  execute_process(COMMAND head -c 100000 ${DATA}/train-images-idx3-ubyte.gz
                  OUTPUT_FILE ${WORK}/bad/train-images-idx3-ubyte.gz)
  execute_process(COMMAND ${MPIRUN} -np 1 ${TRAINER} --epochs 1 --quiet
                          : -np 1 ${TRAINER} --epochs 1 --quiet --data ${WORK}/bad
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(rc EQUAL 0 OR rc MATCHES "timeout")
    message(FATAL_ERROR "a job with a bad file on rank 1 did not fail (exit ${rc}):\n${out}\n${err}")
  endif()
  # A plain search, not a regular expression: the path may hold "g++".
  string(FIND "${out}${err}" "rank 1: train_fashion_mnist: ${WORK}/bad/train-images-idx3-ubyte.gz: " at)
  if(at EQUAL -1)
    message(FATAL_ERROR "no message naming rank 1's file (exit ${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "bad_data_on_one_rank: exit ${rc}, with rank 1's message")
else()
  message(FATAL_ERROR "unknown case ${CASE}")
endif()
