#include "distributed/mpi_context.h"

#include <cstdlib>

#include "distributed/node_cpus.h"

namespace llamarec {

void mpi_fail(const char* call, int status, const char* file, int line) {
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, message, &length);
  fail("MPI error in {} ({}:{}): {}", call, file, line, std::string(message, length));
}

namespace {

// The members of `comm` on this node, in `comm`'s rank order. The caller frees it.
MPI_Comm split_node(MPI_Comm comm) {
  int rank = 0;
  mpiCheck(MPI_Comm_rank(comm, &rank));
  MPI_Comm node;
  mpiCheck(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node));
  return node;
}

NodeRank rank_in(MPI_Comm node) {
  NodeRank result;
  mpiCheck(MPI_Comm_rank(node, &result.rank));
  mpiCheck(MPI_Comm_size(node, &result.size));
  return result;
}

}  // namespace

NodeRank node_rank(MPI_Comm comm) {
  MPI_Comm node = split_node(comm);
  const NodeRank result = rank_in(node);
  mpiCheck(MPI_Comm_free(&node));
  return result;
}

MpiContext::MpiContext(int* argc, char*** argv) {
  int already = 0;
  mpiCheck(MPI_Initialized(&already));
  if (!already) {
    int provided = 0;
    // MULTIPLE: FSDP's prefetched gathers run on a progress thread (MpiProgressThread) while the
    // main thread makes other MPI calls. A library that provides less gets synchronous gathers.
    mpiCheck(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
    owns_ = true;
  }
  // Errors come back as codes so that mpiCheck can turn them into exceptions with a message.
  mpiCheck(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  mpiCheck(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  mpiCheck(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  MPI_Comm node = split_node(MPI_COMM_WORLD);
  const NodeRank local = rank_in(node);
  local_rank_ = local.rank;
  local_size_ = local.size;
  node_cpus_ = node_cpu_sets(node, CpuSet::of_process());
  mpiCheck(MPI_Comm_free(&node));
}

MpiContext::~MpiContext() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_ && !finalized) MPI_Finalize();
}

bool MpiContext::initialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  int finalized = 0;
  MPI_Finalized(&finalized);
  return flag && !finalized;
}

void MpiContext::abort_world(int code) {
  if (initialized()) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

std::string MpiContext::library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string out(text, static_cast<size_t>(length));
  return out.substr(0, out.find_first_of("\n,"));
}

}  // namespace llamarec
