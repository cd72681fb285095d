//===- hybrid-run.cpp - Run a HybridC artifact ------------------*- C++ -*-===//
//
// hybrid-run model.hyb --prompt-ids 1,2,3 [--max-new-tokens N]
//   [--temperature T] [--top-p P] [--seed S] [--logits-out FILE.npy] [--json]
//   [--weights-dir DIR] [--device cpu|cuda] [--threads N] [--sequences N]
//   [--load-state FILE] [--save-state FILE] [--profile]
//   [--profile-trace FILE.json] [--help]
//
// Prefills the prompt, then generates (greedy unless --temperature > 0),
// printing the ids and the prefill and decode speed; with --sequences N,
// for N sequences of the prompt whose decode steps are batched. The prefill computes
// the logits of every prompt token only for --logits-out; otherwise only
// the last token's, which generation needs.
//
//===----------------------------------------------------------------------===//

#include "hybrid/runtime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {
const char *const kUsage =
    "usage: hybrid-run MODEL.hyb --prompt-ids ID,ID,... "
    "[--max-new-tokens N] [--temperature T] [--top-p P] [--seed S] "
    "[--logits-out FILE.npy] [--json] [--weights-dir DIR] [--device cpu|cuda] "
    "[--threads N] [--sequences N] [--load-state FILE] "
    "[--save-state FILE] [--profile] [--profile-trace FILE.json]\n";

int usage(const std::string &message) {
  std::fprintf(stderr, "hybrid-run: error: %s\n%s", message.c_str(), kUsage);
  return 2;
}

/// --help: what each option does (README.md says more).
int help() {
  std::printf(
      "hybrid-run: runs a HybridC artifact (hybridc -o MODEL.hyb): prefills the\n"
      "prompt, then generates, printing the ids and the prefill and decode speed.\n"
      "%s\n"
      "  --prompt-ids ID,ID,...   the prompt's token ids (required)\n"
      "  --max-new-tokens N       tokens to generate (default 16; 0: the prompt only)\n"
      "  --temperature T          sample at temperature T (default 0: greedy)\n"
      "  --top-p P                nucleus sampling: the smallest set of tokens of\n"
      "                           probability P, in (0, 1] (default 1)\n"
      "  --seed S                 the sampler's seed (default 0)\n"
      "  --logits-out FILE.npy    write every prompt token's logits, float32\n"
      "                           [positions, vocab] (the prefill then computes them\n"
      "                           all, not just the last token's)\n"
      "  --json                   print the generated ids and the speeds as one\n"
      "                           JSON object\n"
      "  --weights-dir DIR        where an artifact compiled with --weights=external\n"
      "                           finds its safetensors files\n"
      "  --device cpu|cuda        where the caller expects the artifact to run;\n"
      "                           refuses one compiled for the other\n"
      "  --threads N              threads a CPU artifact's kernels run on (default:\n"
      "                           every core the process may use)\n"
      "  --sequences N            run N sequences of the prompt in one session, their\n"
      "                           decode steps batched (up to the artifact's\n"
      "                           --max-batch per call); sequence i samples with\n"
      "                           seed S + i; speeds count every sequence's tokens\n"
      "  --load-state FILE        continue from a saved state (a cached prefix), in\n"
      "                           every sequence\n"
      "  --save-state FILE        save the sequence's state after the prompt (one\n"
      "                           sequence only)\n"
      "  --profile                print each kernel's calls, workgroups and time\n"
      "  --profile-trace FILE.json  write every dispatch as a Chrome trace\n"
      "  --help, -h               print this and exit\n"
      "Environment: HYBRID_CUDA_GRAPHS=0 launches a CUDA artifact's repeated calls\n"
      "one kernel at a time instead of as CUDA graphs (default 1).\n"
      "HYBRID_CUDA_PDL=0 launches each kernel of an sm_90 artifact only once the\n"
      "kernel before it has completed; by default (1) it may launch while that one\n"
      "runs and waits for it itself (programmatic dependent launch; CUDA 12.3+).\n",
      kUsage);
  return 0;
}

int failed(hybrid_status *status) {
  std::fprintf(stderr, "hybrid-run: error: %s\n", hybrid_status_message(status));
  hybrid_status_free(status);
  return 1;
}

bool parseInt(const std::string &text, int64_t &value) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno || *end)
    return false;
  value = v;
  return true;
}

bool parseDouble(const std::string &text, double &value) {
  if (text.empty())
    return false;
  char *end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return *end == '\0' && std::isfinite(value);
}

/// float32 [rows, columns] in NumPy's .npy format, written atomically.
bool writeNpy(const std::string &path, const std::vector<float> &data,
              int64_t rows, int64_t columns) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(columns) +
                       "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary);
    if (!out)
      return false;
    out.write("\x93NUMPY\x01\x00", 8);
    uint16_t size = static_cast<uint16_t>(header.size());
    out.write(reinterpret_cast<const char *>(&size), 2);
    out << header;
    out.write(reinterpret_cast<const char *>(data.data()),
              static_cast<std::streamsize>(data.size() * sizeof(float)));
    if (!out)
      return false;
  }
  return std::rename(temp.c_str(), path.c_str()) == 0;
}

/// The next token from a row of logits: argmax, or a sample at
/// `temperature` from the smallest set of tokens holding `topP` mass.
int64_t choose(const float *row, int64_t vocab, double temperature, double topP,
               std::mt19937_64 &rng) {
  if (temperature <= 0)
    return std::max_element(row, row + vocab) - row;
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return row[a] > row[b]; });
  std::vector<double> p(vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += p[i] = std::exp((row[order[i]] - row[order[0]]) / temperature);
  int64_t keep = 0;
  double mass = 0;
  while (keep < vocab && (keep == 0 || mass < topP * sum))
    mass += p[keep++];
  std::uniform_real_distribution<double> uniform(0.0, mass);
  double r = uniform(rng);
  for (int64_t i = 0; i < keep; ++i)
    if ((r -= p[i]) <= 0)
      return order[i];
  return order[keep - 1];
}
} // namespace

int main(int argc, char **argv) {
  std::string model, logitsOut, weightsDir, loadState, saveState, traceOut,
      device;
  bool profile = false;
  std::vector<int64_t> prompt;
  int64_t maxNew = 16, seed = 0, threads = 0, sequences = 1;
  double temperature = 0, topP = 1.0;
  bool json = false, havePrompt = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string &out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      return help();
    } else if (arg == "--prompt-ids") {
      if (!value(v))
        return usage("--prompt-ids needs a value");
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        int64_t id;
        if (!parseInt(v.substr(start, comma - start), id))
          return usage("--prompt-ids: '" + v + "' is not a list of integers");
        prompt.push_back(id);
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
      havePrompt = true;
    } else if (arg == "--max-new-tokens") {
      if (!value(v) || !parseInt(v, maxNew) || maxNew < 0)
        return usage("--max-new-tokens needs a non-negative integer");
    } else if (arg == "--temperature") {
      if (!value(v) || !parseDouble(v, temperature) || temperature < 0)
        return usage("--temperature needs a non-negative number");
    } else if (arg == "--top-p") {
      if (!value(v) || !parseDouble(v, topP) || topP <= 0 || topP > 1)
        return usage("--top-p needs a number in (0, 1]");
    } else if (arg == "--seed") {
      if (!value(v) || !parseInt(v, seed))
        return usage("--seed needs an integer");
    } else if (arg == "--logits-out") {
      if (!value(logitsOut))
        return usage("--logits-out needs a file name");
    } else if (arg == "--threads") {
      if (!value(v) || !parseInt(v, threads) || threads < 1 || threads > 1024)
        return usage("--threads needs an integer from 1 to 1024");
    } else if (arg == "--sequences") {
      if (!value(v) || !parseInt(v, sequences) || sequences < 1 || sequences > 1024)
        return usage("--sequences needs an integer from 1 to 1024");
    } else if (arg == "--device") {
      if (!value(device) || (device != "cpu" && device != "cuda"))
        return usage("--device needs cpu or cuda");
    } else if (arg == "--profile") {
      profile = true;
    } else if (arg == "--profile-trace" || arg == "--load-state" ||
               arg == "--save-state" || arg == "--weights-dir") {
      // Options that take a path.
      std::string &path = arg == "--profile-trace" ? traceOut
                          : arg == "--load-state"  ? loadState
                          : arg == "--save-state"  ? saveState
                                                   : weightsDir;
      if (!value(path))
        return usage(arg + (arg == "--weights-dir" ? " needs a folder"
                                                   : " needs a file name"));
    } else if (arg == "--json") {
      json = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return usage("unknown option '" + arg + "'");
    } else if (model.empty()) {
      model = arg;
    } else {
      return usage("more than one model given");
    }
  }
  if (model.empty())
    return usage("no model given");
  if (!havePrompt || prompt.empty())
    return usage("--prompt-ids is required");
  if (sequences > 1 && !saveState.empty())
    return usage("--save-state saves one sequence: not with --sequences " +
                 std::to_string(sequences));

  hybrid_artifact *artifact = nullptr;
  if (hybrid_status *s = hybrid_artifact_open_file_with_weights(
          model.c_str(), weightsDir.empty() ? nullptr : weightsDir.c_str(),
          &artifact))
    return failed(s);
  // The artifact was compiled for one device (hybridc --target); --device
  // says which the caller expects.
  std::string compiledFor = hybrid_artifact_device(artifact);
  if (!device.empty() && device != compiledFor) {
    std::fprintf(stderr,
                 "hybrid-run: error: %s: compiled for %s; to run it on "
                 "--device %s, compile it with hybridc --target=%s\n",
                 model.c_str(), compiledFor == "cuda" ? "CUDA" : "the CPU",
                 device.c_str(), device.c_str());
    hybrid_artifact_free(artifact);
    return 1;
  }
  if (threads > 0)
    if (hybrid_status *s = hybrid_artifact_set_threads(
            artifact, static_cast<int32_t>(threads)))
      return failed(s);
  if (profile || !traceOut.empty())
    if (hybrid_status *s = hybrid_artifact_profile(artifact, 1))
      return failed(s);
  hybrid_session *session = nullptr;
  int32_t count = static_cast<int32_t>(sequences);
  if (hybrid_status *s = hybrid_session_create(artifact, count, &session))
    return failed(s);
  hybrid_session_prompt_logits(session, !logitsOut.empty());
  int64_t vocab = hybrid_artifact_vocab_size(artifact);
  // The prompt continues a saved state (e.g. a cached prefix).
  if (!loadState.empty()) {
    hybrid_snapshot *snapshot = nullptr;
    if (hybrid_status *s =
            hybrid_snapshot_load(artifact, loadState.c_str(), &snapshot))
      return failed(s);
    for (int32_t q = 0; q < count; ++q) {
      if (hybrid_status *s = hybrid_sequence_restore(session, q, snapshot)) {
        hybrid_snapshot_free(snapshot);
        return failed(s);
      }
    }
    hybrid_snapshot_free(snapshot);
  }

  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  for (int32_t q = 0; q < count; ++q)
    if (hybrid_status *s = hybrid_prefill(session, q, prompt.data(),
                                          static_cast<int64_t>(prompt.size())))
      return failed(s);
  double prefillSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // The state after the prompt, for a later --load-state.
  if (!saveState.empty()) {
    hybrid_snapshot *snapshot = nullptr;
    if (hybrid_status *s = hybrid_sequence_snapshot(session, 0, &snapshot))
      return failed(s);
    hybrid_status *s = hybrid_snapshot_save(snapshot, saveState.c_str());
    hybrid_snapshot_free(snapshot);
    if (s)
      return failed(s);
  }
  const float *logits;
  int64_t rows;
  if (hybrid_status *s = hybrid_logits(session, 0, &logits, &rows))
    return failed(s);
  if (!logitsOut.empty() &&
      !writeNpy(logitsOut, std::vector<float>(logits, logits + rows * vocab), rows,
                vocab)) {
    std::fprintf(stderr, "hybrid-run: error: %s: cannot write\n", logitsOut.c_str());
    return 1;
  }
  // Sequence q samples with seed + q (sequence 0 as a run of one).
  std::vector<std::mt19937_64> rngs;
  std::vector<std::vector<int64_t>> generated(count);
  std::vector<int64_t> next(count);
  for (int32_t q = 0; q < count; ++q) {
    rngs.emplace_back(static_cast<uint64_t>(seed + q));
    if (hybrid_status *s = hybrid_logits(session, q, &logits, &rows))
      return failed(s);
    next[q] = choose(logits + (rows - 1) * vocab, vocab, temperature, topP, rngs[q]);
  }
  auto t1 = Clock::now();
  for (int64_t i = 0; i < maxNew; ++i) {
    for (int32_t q = 0; q < count; ++q)
      generated[q].push_back(next[q]);
    if (i + 1 == maxNew)
      break;
    if (hybrid_status *s = hybrid_decode(session, next.data()))
      return failed(s);
    for (int32_t q = 0; q < count; ++q) {
      if (hybrid_status *s = hybrid_logits(session, q, &logits, &rows))
        return failed(s);
      next[q] = choose(logits, vocab, temperature, topP, rngs[q]);
    }
  }
  double decodeSeconds = std::chrono::duration<double>(Clock::now() - t1).count();
  double prefillRate = count * prompt.size() / std::max(prefillSeconds, 1e-9);
  // The first generated token comes from the prefill's logits; decode
  // steps produce the rest.
  size_t decodeSteps = maxNew > 0 ? static_cast<size_t>(maxNew) - 1 : 0;
  double decodeRate =
      decodeSteps ? count * decodeSteps / std::max(decodeSeconds, 1e-9) : 0;

  auto idList = [](const std::vector<int64_t> &ids) {
    std::string text;
    for (size_t i = 0; i < ids.size(); ++i)
      text += (i ? "," : "") + std::to_string(ids[i]);
    return text;
  };
  int threadCount = hybrid_artifact_threads(artifact);
  if (json) {
    // "generated": sequence 0's ids; with --sequences, every sequence's too.
    std::string bySequence;
    for (int32_t q = 0; count > 1 && q < count; ++q)
      bySequence += (q ? ", [" : ", \"sequences\": " + std::to_string(count) +
                                     ", \"generated_by_sequence\": [[") +
                    idList(generated[q]) + "]";
    if (count > 1)
      bySequence += "]";
    std::printf("{\"generated\": [%s]%s, \"prefill_tokens_per_second\": %.2f, "
                "\"decode_tokens_per_second\": %.2f, \"threads\": %d}\n",
                idList(generated[0]).c_str(), bySequence.c_str(), prefillRate,
                decodeRate, threadCount);
  } else {
    for (int32_t q = 0; q < count; ++q)
      std::printf("%s\n", idList(generated[q]).c_str());
    std::string times = count > 1 ? std::to_string(count) + " sequences x " : "";
    std::printf("prefill: %s%zu tokens, %.1f tokens/s\ndecode: %s%zu tokens, "
                "%.1f tokens/s\n",
                times.c_str(), prompt.size(), prefillRate, times.c_str(),
                decodeSteps, decodeRate);
  }
  // Where the kernels ran: CPU threads, or the CUDA device.
  if (!json && compiledFor == "cuda")
    std::printf("device: %s\n", hybrid_artifact_device_name(artifact));
  else if (!json)
    std::printf("threads: %d\n", threadCount);
  if (profile || !traceOut.empty())
    if (hybrid_status *s = hybrid_artifact_write_profile(
            artifact, profile ? "-" : nullptr,
            traceOut.empty() ? nullptr : traceOut.c_str()))
      return failed(s);
  hybrid_session_free(session);
  hybrid_artifact_free(artifact);
  return 0;
}
