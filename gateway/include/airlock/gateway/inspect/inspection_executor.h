// Inspection beside reception: an upload's bytes are handed to worker threads that run its
// InspectionPipeline (SHA-256, sniffing, text, identifiers, tables, archives), so hashing one chunk overlaps
// with receiving and storing the next. Each feed is processed in order, by one worker at a time; the bytes
// queued across every feed are bounded, and a feed over the bound inspects on the caller's thread instead
// (after the worker has caught up), so memory stays flat with many concurrent uploads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "airlock/gateway/inspect/pipeline.h"
#include "airlock/runtime/result.h"

namespace airlock::gateway::inspect {

struct InspectionExecutorOptions {
  unsigned threads = 2;                       // 0: no workers, every feed inspects on the caller's thread
  std::size_t max_queued_bytes = 32u << 20;   // bytes waiting for a worker, across every feed
  std::size_t batch_bytes = 256u << 10;       // a feed hands over bytes in batches of about this size
  // Side lanes open at a time, across every pipeline; 0: twice the threads. Each holds a few chunks of its
  // upload (copies, or buffers kept), and with more lanes than threads the lanes only wait for one another:
  // past the bound, an upload's content inspectors run in its own turn instead (side_lane() gives none).
  std::size_t max_side_lanes = 0;
};

class InspectionExecutor {
 public:
  explicit InspectionExecutor(InspectionExecutorOptions options = {});
  ~InspectionExecutor();  // finishes the queued work, then joins the workers
  InspectionExecutor(const InspectionExecutor&) = delete;
  InspectionExecutor& operator=(const InspectionExecutor&) = delete;

  const InspectionExecutorOptions& options() const;
  std::size_t queued_bytes() const;     // for tests and metrics
  std::size_t side_lanes_open() const;  // for tests and metrics

  // A lane whose work runs in order on the workers, beside its caller (InspectionOptions::side_lane). Its
  // pieces go before any feed's batches. When the lane is full, or waited for, and no worker has taken its
  // work, the caller runs it: a lane never waits on a busy pool, so a worker may use one from inside a feed.
  // With no workers, post() runs the piece at once. The executor must outlive the lane. Null when
  // max_side_lanes lanes are open: the caller runs that work itself.
  std::unique_ptr<SideLane> side_lane(std::size_t depth);
  // side_lane() as a function, for InspectionOptions::side_lane; the executor must outlive it.
  MakeSideLane side_lane_function();

  struct Shared;

 private:
  friend class InspectionFeed;
  std::shared_ptr<Shared> shared_;
};

// The bytes of one request (or several, in order) on their way into one pipeline. Not thread-safe: one
// caller at a time feeds it, as one request streams into an upload at a time. The pipeline must outlive the
// feed; destroying the feed waits for its queued bytes.
class InspectionFeed {
 public:
  InspectionFeed(InspectionExecutor& executor, InspectionPipeline& pipeline);
  ~InspectionFeed();
  InspectionFeed(const InspectionFeed&) = delete;
  InspectionFeed& operator=(const InspectionFeed&) = delete;

  // Queues the bytes (copied) for the pipeline. An error here is the pipeline's error on earlier bytes, or
  // on these when they were inspected at once; after an error every call returns it.
  runtime::Status update(std::span<const char> bytes);
  // update() without the copy, for a caller that reads into a buffer of its own and then lets it go: the
  // first `size` bytes of `buffer` go to the pipeline as they are, and `buffer` comes back as another
  // buffer at least as large (one the pipeline is done with, or a new one) whose contents are unspecified.
  // Bytes given to update() before go first. A small `size` is copied, as update() would.
  runtime::Status hand_over(std::vector<char>& buffer, std::size_t size) { return hand_over(buffer, 0, size); }
  // hand_over() of the `size` bytes of `buffer` from `offset`.
  runtime::Status hand_over(std::vector<char>& buffer, std::size_t offset, std::size_t size);
  // Waits until the pipeline has seen every byte given so far; returns its first error, if any.
  runtime::Status drain();

 private:
  struct State;
  static runtime::Status submit(const std::shared_ptr<State>& feed, std::vector<char>& bytes, std::size_t offset,
                                std::size_t size, bool handed_over);
  // submit() of the batch update() has filled, which then starts empty again.
  static runtime::Status submit_pending(const std::shared_ptr<State>& feed);
  friend struct InspectionExecutor::Shared;
  std::shared_ptr<State> state_;
};

}  // namespace airlock::gateway::inspect
