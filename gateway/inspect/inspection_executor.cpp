#include "airlock/gateway/inspect/inspection_executor.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace airlock::gateway::inspect {

using runtime::Status;

namespace {
// Batches a feed may have queued, the one being inspected included, before its caller waits for the worker
// (back-pressure on the sender).
constexpr std::size_t kMaxBatchesPerFeed = 5;
}  // namespace

// Bytes waiting for the pipeline: the `size` bytes of `bytes` from `offset`. A buffer handed over by
// InspectionFeed::hand_over() is usually larger than what it holds, and is reused at its full size.
struct QueuedBatch {
  std::vector<char> bytes;
  std::size_t offset = 0;
  std::size_t size = 0;
  bool handed_over = false;  // by hand_over(), not a batch of update()'s copies
};

struct InspectionFeed::State {
  InspectionPipeline* pipeline = nullptr;
  std::shared_ptr<InspectionExecutor::Shared> shared;
  std::vector<char> pending;  // the batch update() is filling; touched by the caller only
  // Guarded by Shared::mutex.
  std::deque<QueuedBatch> queue;
  // Processed buffers of hand_over(), given back by it and kept until the feed ends (not cleared: a buffer
  // handed back keeps its size, so it is not filled with zeros again); or, for those the pipeline kept for its
  // side lanes (InspectionPipeline::update() of a buffer), the ones it gave back instead. None is freed or
  // written before: a caller may have lent a buffer it handed over to a writer too
  // (QuarantineWriter::append_lent), which it reclaims before it writes a buffer given back, or ends the feed
  // (the pipeline, which outlives the feed, frees the buffers it kept only when its lanes end). They are at
  // most the buffers in circulation: a hand-over takes a new one only when none is spare, that is at most the
  // queue's and one, and the pipeline's lanes' (kLaneDepth + 1).
  std::vector<std::vector<char>> spare;
  std::vector<char> own_spare;  // a processed batch of update()'s, for its next batch
  bool scheduled = false;       // in the ready list or being processed by a worker
  Status error = Status::ok();
  std::condition_variable progress;  // a batch was processed
};

class ExecutorLane;

struct InspectionExecutor::Shared {
  InspectionExecutorOptions options;
  mutable std::mutex mutex;
  std::condition_variable work;
  std::deque<ExecutorLane*> side;  // lanes with work for a worker, taken before the ready feeds
  std::deque<std::shared_ptr<InspectionFeed::State>> ready;
  std::size_t queued_bytes = 0;
  std::size_t side_lanes_open = 0;
  bool stopping = false;
  std::vector<std::thread> workers;

  void run();
};

// A SideLane of the executor. Its pieces run one at a time, in order: on a worker that took the lane from
// Shared::side, or on a caller that finds the lane full (or waits for it) while no worker runs it.
class ExecutorLane final : public SideLane {
 public:
  ExecutorLane(std::shared_ptr<InspectionExecutor::Shared> shared, std::size_t depth)
      : shared_(std::move(shared)), depth_(std::max<std::size_t>(depth, 1)) {}

  ~ExecutorLane() override {
    std::unique_lock lock(shared_->mutex);
    finish(lock);
    if (posted_) shared_->side.erase(std::find(shared_->side.begin(), shared_->side.end(), this));
    --shared_->side_lanes_open;
  }

  void post(std::function<void()> work) override {
    InspectionExecutor::Shared& shared = *shared_;
    if (shared.workers.empty()) {
      work();
      return;
    }
    std::unique_lock lock(shared.mutex);
    while (works_.size() + (running_ ? 1 : 0) >= depth_) {
      if (running_) {
        progress_.wait(lock);
      } else {
        run_front(lock);
      }
    }
    works_.push_back(std::move(work));
    if (!running_ && !posted_) {
      posted_ = true;
      shared.side.push_back(this);
      lock.unlock();
      shared.work.notify_one();
    }
  }

  void wait() override {
    std::unique_lock lock(shared_->mutex);
    finish(lock);
  }

  // A worker took the lane from Shared::side: runs its pieces until none is left, unless another thread is
  // running one (that thread goes on with the rest, or posts the lane again).
  void drain(std::unique_lock<std::mutex>& lock) {
    posted_ = false;
    while (!running_ && !works_.empty()) run_front(lock);
  }

 private:
  // Until every piece has run; the caller runs those no worker runs.
  void finish(std::unique_lock<std::mutex>& lock) {
    while (running_ || !works_.empty()) {
      if (running_) {
        progress_.wait(lock);
      } else {
        run_front(lock);
      }
    }
  }

  // Runs the oldest piece on this thread, without the lock.
  void run_front(std::unique_lock<std::mutex>& lock) {
    std::function<void()> work = std::move(works_.front());
    works_.pop_front();
    running_ = true;
    lock.unlock();
    work();
    lock.lock();
    running_ = false;
    progress_.notify_all();
  }

  std::shared_ptr<InspectionExecutor::Shared> shared_;
  std::size_t depth_;
  // Guarded by Shared::mutex.
  std::deque<std::function<void()>> works_;
  bool running_ = false;              // a thread is running a piece
  bool posted_ = false;               // the lane is in Shared::side
  std::condition_variable progress_;  // a piece has run
};

void InspectionExecutor::Shared::run() {
  std::unique_lock lock(mutex);
  for (;;) {
    work.wait(lock, [&] { return stopping || !ready.empty() || !side.empty(); });
    if (!side.empty()) {
      ExecutorLane* lane = side.front();
      side.pop_front();
      lane->drain(lock);
      continue;
    }
    if (ready.empty()) return;  // stopping, and nothing left
    std::shared_ptr<InspectionFeed::State> feed = std::move(ready.front());
    ready.pop_front();
    while (!feed->queue.empty()) {
      // The batch stays at the queue's front while it is inspected (push_back keeps references to a deque's
      // elements valid), so a caller that finds the queue full waits for it, and then finds its buffer spare
      // instead of allocating another.
      QueuedBatch& batch = feed->queue.front();
      bool failed = !feed->error;
      lock.unlock();
      // A buffer handed over may be kept by the pipeline for its side lanes, and another given back instead.
      Status status = Status::ok();
      if (!failed && batch.handed_over) {
        status = feed->pipeline->update(batch.bytes, batch.offset, batch.size);
      } else if (!failed) {
        status = feed->pipeline->update({batch.bytes.data() + batch.offset, batch.size});
      }
      lock.lock();
      queued_bytes -= batch.size;
      if (!status && feed->error) feed->error = std::move(status);
      std::vector<char> done = std::move(batch.bytes);
      const bool handed_over = batch.handed_over;
      feed->queue.pop_front();
      if (handed_over) {
        if (done.capacity() != 0) feed->spare.push_back(std::move(done));
      } else if (feed->own_spare.capacity() == 0) {
        feed->own_spare = std::move(done);
      }
      feed->progress.notify_all();
    }
    feed->scheduled = false;
    feed->progress.notify_all();
  }
}

InspectionExecutor::InspectionExecutor(InspectionExecutorOptions options) : shared_(std::make_shared<Shared>()) {
  shared_->options = options;
  if (shared_->options.batch_bytes == 0) shared_->options.batch_bytes = 1;
  if (shared_->options.max_side_lanes == 0) {
    shared_->options.max_side_lanes = std::size_t{2} * std::max(options.threads, 1u);
  }
  for (unsigned i = 0; i < options.threads; ++i) {
    shared_->workers.emplace_back([shared = shared_.get()] { shared->run(); });
  }
}

InspectionExecutor::~InspectionExecutor() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->work.notify_all();
  for (std::thread& worker : shared_->workers) worker.join();
}

const InspectionExecutorOptions& InspectionExecutor::options() const { return shared_->options; }

std::unique_ptr<SideLane> InspectionExecutor::side_lane(std::size_t depth) {
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->side_lanes_open >= shared_->options.max_side_lanes) return nullptr;
    ++shared_->side_lanes_open;
  }
  return std::make_unique<ExecutorLane>(shared_, depth);
}

MakeSideLane InspectionExecutor::side_lane_function() {
  return [this](std::size_t depth) { return side_lane(depth); };
}

std::size_t InspectionExecutor::queued_bytes() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->queued_bytes;
}

std::size_t InspectionExecutor::side_lanes_open() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->side_lanes_open;
}

InspectionFeed::InspectionFeed(InspectionExecutor& executor, InspectionPipeline& pipeline)
    : state_(std::make_shared<State>()) {
  state_->pipeline = &pipeline;
  state_->shared = executor.shared_;
}

InspectionFeed::~InspectionFeed() { (void)drain(); }

// Hands the `size` bytes of `bytes` from `offset` to a worker, and `bytes` becomes a spare buffer of the same
// origin (hand_over()'s or update()'s; or an empty one); or inspects them here when no worker may take them,
// and `bytes` stays as it is (or, handed over, becomes the buffer the pipeline gave back for it).
Status InspectionFeed::submit(const std::shared_ptr<State>& feed, std::vector<char>& bytes, std::size_t offset,
                              std::size_t size, bool handed_over) {
  InspectionExecutor::Shared& shared = *feed->shared;
  if (size == 0) return Status::ok();
  std::unique_lock lock(shared.mutex);
  if (!feed->error) return feed->error;
  bool over_budget = shared.queued_bytes + size > shared.options.max_queued_bytes;
  if (shared.workers.empty() || over_budget) {
    // In order: whatever the worker holds goes first, then these bytes on this thread.
    feed->progress.wait(lock, [&] { return !feed->scheduled; });
    if (!feed->error) return feed->error;
    lock.unlock();
    Status status = handed_over ? feed->pipeline->update(bytes, offset, size)
                                : feed->pipeline->update({bytes.data() + offset, size});
    if (!status) {
      lock.lock();
      feed->error = status;
    }
    return status;
  }
  feed->progress.wait(lock, [&] { return feed->queue.size() < kMaxBatchesPerFeed; });
  shared.queued_bytes += size;
  feed->queue.push_back(QueuedBatch{std::move(bytes), offset, size, handed_over});
  if (!handed_over) {
    bytes = std::exchange(feed->own_spare, {});
  } else if (!feed->spare.empty()) {
    bytes = std::move(feed->spare.back());
    feed->spare.pop_back();
  } else {
    bytes = {};
  }
  if (!feed->scheduled) {
    feed->scheduled = true;
    shared.ready.push_back(feed);
    lock.unlock();
    shared.work.notify_one();
  }
  return Status::ok();
}

Status InspectionFeed::update(std::span<const char> bytes) {
  if (state_->shared->workers.empty()) {
    // No workers: straight into the pipeline, without a copy.
    if (!state_->error) return state_->error;
    Status status = state_->pipeline->update(bytes);
    if (!status) state_->error = status;
    return status;
  }
  std::size_t batch = state_->shared->options.batch_bytes;
  while (!bytes.empty()) {
    std::vector<char>& pending = state_->pending;
    if (pending.capacity() < batch) pending.reserve(batch);
    std::size_t take = std::min(bytes.size(), batch - std::min(batch, pending.size()));
    if (take == 0) take = bytes.size();
    pending.insert(pending.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    if (pending.size() >= batch) {
      if (Status status = submit_pending(state_); !status) return status;
    }
  }
  std::lock_guard lock(state_->shared->mutex);
  return state_->error;
}

Status InspectionFeed::hand_over(std::vector<char>& buffer, std::size_t offset, std::size_t size) {
  offset = std::min(offset, buffer.size());
  size = std::min(size, buffer.size() - offset);
  // Without workers update() does not copy either; a small piece is cheaper copied than queued alone.
  if (state_->shared->workers.empty() || size < state_->shared->options.batch_bytes / 4) {
    return update({buffer.data() + offset, size});
  }
  if (Status status = submit_pending(state_); !status) return status;  // bytes given to update() go first
  const std::size_t capacity = buffer.size();
  Status status = submit(state_, buffer, offset, size, /*handed_over=*/true);
  if (buffer.size() < capacity) buffer.resize(capacity);
  if (!status) return status;
  std::lock_guard lock(state_->shared->mutex);
  return state_->error;
}

Status InspectionFeed::submit_pending(const std::shared_ptr<State>& feed) {
  Status status = submit(feed, feed->pending, 0, feed->pending.size(), /*handed_over=*/false);
  feed->pending.clear();
  return status;
}

Status InspectionFeed::drain() {
  Status submitted = submit_pending(state_);
  std::unique_lock lock(state_->shared->mutex);
  state_->progress.wait(lock, [&] { return !state_->scheduled; });
  if (!state_->error) return state_->error;
  return submitted;
}

}  // namespace airlock::gateway::inspect
