#include "airlock/gateway/inspect/inspection_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace airlock::gateway::inspect {
namespace {

// A CSV with NHS numbers, postcodes and emails spread over many rows, so identifiers and table statistics
// depend on every byte arriving in order.
std::string sample_csv(std::size_t rows) {
  std::string text = "nhs_number,postcode,email,count\n";
  std::mt19937 random(7);
  const char* numbers[] = {"9434765919", "4010232137", "9434765870"};
  for (std::size_t i = 0; i < rows; ++i) {
    text += std::string(numbers[i % 3]) + ",SW1A 1AA,person" + std::to_string(i) + "@example.org," +
            std::to_string(random() % 1000) + "\n";
  }
  return text;
}

InspectionOptions csv_options(std::size_t size) {
  InspectionOptions options;
  options.declared = {"cohort.csv", "text/csv", size};
  return options;
}

// Feeds `data` in chunks of `chunk` bytes directly, the reference.
InspectionReport direct(const std::string& data, std::size_t chunk) {
  InspectionPipeline pipeline(csv_options(data.size()));
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    EXPECT_TRUE(pipeline.update({data.data() + at, std::min(chunk, data.size() - at)}).is_ok());
  }
  EXPECT_TRUE(pipeline.finish("/nonexistent").is_ok());
  return pipeline.report();
}

// A pipeline over `data` fed by `feed_all` through an InspectionFeed of `executor`; its report once every byte
// has arrived.
InspectionReport fed(InspectionExecutor& executor, const std::string& data, bool lanes,
                     const std::function<void(InspectionFeed&)>& feed_all) {
  InspectionOptions options = csv_options(data.size());
  if (lanes) options.side_lane = executor.side_lane_function();
  InspectionPipeline pipeline(options);
  {
    InspectionFeed feed(executor, pipeline);
    feed_all(feed);
    EXPECT_TRUE(feed.drain().is_ok());
    EXPECT_EQ(pipeline.bytes_received(), data.size());
  }
  EXPECT_TRUE(pipeline.finish("/nonexistent").is_ok());
  return pipeline.report();
}

InspectionReport through(InspectionExecutor& executor, const std::string& data, std::size_t chunk, bool lanes = false) {
  return fed(executor, data, lanes, [&](InspectionFeed& feed) {
    for (std::size_t at = 0; at < data.size(); at += chunk) {
      EXPECT_TRUE(feed.update({data.data() + at, std::min(chunk, data.size() - at)}).is_ok());
    }
  });
}

void expect_same(const InspectionReport& got, const InspectionReport& want) {
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.sha256, want.sha256);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.identifiers.nhs_numbers, want.identifiers.nhs_numbers);
  EXPECT_EQ(got.identifiers.postcodes, want.identifiers.postcodes);
  EXPECT_EQ(got.identifiers.emails, want.identifiers.emails);
  EXPECT_EQ(got.table.rows, want.table.rows);
  EXPECT_EQ(got.table.columns, want.table.columns);
  EXPECT_EQ(got.table.min_count, want.table.min_count);
  EXPECT_EQ(got.table.zero_cells, want.table.zero_cells);
  EXPECT_EQ(got.table.identifier_columns, want.table.identifier_columns);
}

TEST(InspectionExecutor, WorkersSeeTheBytesInOrderAndFindWhatADirectPipelineFinds) {
  std::string data = sample_csv(20000);
  InspectionReport want = direct(data, 65536);
  ASSERT_GT(want.identifiers.nhs_numbers, 0);
  InspectionExecutor executor({.threads = 2, .max_queued_bytes = 8u << 20, .batch_bytes = 4096});
  expect_same(through(executor, data, 1000), want);
  expect_same(through(executor, data, 65536), want);
  EXPECT_EQ(executor.queued_bytes(), 0u);
}

TEST(InspectionExecutor, OverTheByteBudgetTheCallerInspectsInOrder) {
  std::string data = sample_csv(5000);
  InspectionReport want = direct(data, 65536);
  // A budget smaller than one batch: every batch is inspected on the caller's thread.
  InspectionExecutor executor({.threads = 1, .max_queued_bytes = 100, .batch_bytes = 4096});
  expect_same(through(executor, data, 3000), want);
  InspectionExecutor inline_only({.threads = 0});
  expect_same(through(inline_only, data, 3000), want);
}

TEST(InspectionExecutor, ManyFeedsAtOnceEachGetTheirOwnBytes) {
  InspectionExecutor executor({.threads = 2, .max_queued_bytes = 1u << 20, .batch_bytes = 8192});
  std::vector<std::string> files;
  std::vector<InspectionReport> wants;
  for (std::size_t i = 0; i < 8; ++i) {
    files.push_back(sample_csv(500 + 300 * i));
    wants.push_back(direct(files.back(), 65536));
  }
  std::vector<InspectionReport> gots(files.size());
  std::vector<std::thread> callers;
  for (std::size_t i = 0; i < files.size(); ++i) {
    callers.emplace_back([&, i] { gots[i] = through(executor, files[i], 777); });
  }
  for (std::thread& caller : callers) caller.join();
  for (std::size_t i = 0; i < files.size(); ++i) {
    SCOPED_TRACE(i);
    expect_same(gots[i], wants[i]);
  }
}

TEST(InspectionExecutor, ATableParsedBesideTheHashFindsWhatADirectPipelineFinds) {
  std::string data = sample_csv(40000);
  InspectionReport want = direct(data, 65536);
  ASSERT_TRUE(want.table.is_table);
  InspectionExecutor executor({.threads = 2, .max_queued_bytes = 8u << 20, .batch_bytes = 256u << 10});
  expect_same(through(executor, data, 100000, /*lanes=*/true), want);
  // Many uploads at once: the lanes of some are run by their callers when no worker is free.
  std::vector<InspectionReport> gots(4);
  std::vector<std::thread> callers;
  for (std::size_t i = 0; i < gots.size(); ++i) {
    callers.emplace_back([&, i] { gots[i] = through(executor, data, 70000, /*lanes=*/true); });
  }
  for (std::thread& caller : callers) caller.join();
  for (const InspectionReport& got : gots) expect_same(got, want);
  // Large chunks go to the table's lane as copies, small ones straight to the table once the lane is done:
  // mixed, the table must still see every byte in order, also across pauses (which end the lane).
  InspectionOptions options = csv_options(data.size());
  options.side_lane = executor.side_lane_function();
  InspectionPipeline mixed(options);
  const std::size_t sizes[] = {50000, 100, 33000, 7, 262144, 32768, 32767, 1};
  for (std::size_t at = 0, i = 0; at < data.size(); ++i) {
    const std::size_t size = std::min(sizes[i % std::size(sizes)], data.size() - at);
    ASSERT_TRUE(mixed.update({data.data() + at, size}).is_ok());
    at += size;
    if (i % 11 == 10) mixed.pause();
  }
  ASSERT_TRUE(mixed.finish("/nonexistent").is_ok());
  expect_same(mixed.report(), want);
}

// The identifier scanner runs in a side lane too: beside the table's parser when the gateway has three inspection
// threads or more, and alone beside the hash for a text file that is not a table.
TEST(InspectionExecutor, IdentifiersScannedInALaneOfTheirOwnFindWhatADirectPipelineFinds) {
  // Feeds `data` (declared as `name`) in chunks cut from `sizes` in turn, pausing now and then (which ends the
  // lanes), through a pipeline with up to `side_lanes` lanes of `executor`; 0 lanes is the reference.
  auto inspect = [](InspectionExecutor& executor, const std::string& data, const std::string& name,
                    std::size_t side_lanes, std::span<const std::size_t> sizes) {
    InspectionOptions options;
    options.declared = {name, "", data.size()};
    if (side_lanes > 0) {
      options.side_lane = executor.side_lane_function();
      options.side_lanes = side_lanes;
    }
    InspectionPipeline pipeline(options);
    for (std::size_t at = 0, i = 0; at < data.size(); ++i) {
      const std::size_t size = std::min(sizes[i % sizes.size()], data.size() - at);
      EXPECT_TRUE(pipeline.update({data.data() + at, size}).is_ok());
      at += size;
      if (i % 11 == 10) pipeline.pause();
    }
    EXPECT_TRUE(pipeline.finish("/nonexistent").is_ok());
    return pipeline.report();
  };
  const std::size_t large[] = {262144};
  const std::size_t mixed[] = {50000, 100, 33000, 7, 262144, 32768, 32767, 1};
  InspectionExecutor three({.threads = 3});
  InspectionExecutor two({.threads = 2});

  const std::string csv = sample_csv(40000);
  const InspectionReport table_want = inspect(three, csv, "cohort.csv", 0, large);
  ASSERT_TRUE(table_want.table.is_table);
  ASSERT_GT(table_want.identifiers.nhs_numbers, 0);
  ASSERT_GT(table_want.identifiers.emails, 0);
  for (std::span<const std::size_t> sizes :
       {std::span<const std::size_t>(large), std::span<const std::size_t>(mixed)}) {
    expect_same(inspect(three, csv, "cohort.csv", 2, sizes), table_want);
    // Two threads: a second lane asked for all the same, its pieces run by whichever thread is free.
    expect_same(inspect(two, csv, "cohort.csv", 2, sizes), table_want);
  }

  // Free text with identifiers that straddle the chunks: each line moves the next by one byte.
  std::string notes;
  for (std::size_t i = 0; notes.size() < (3u << 20); ++i) {
    notes += "Seen " + std::string(i % 7, '.') + " NHS 943 476 5919 at SW1A 1AA; mail j" + std::to_string(i) +
             "@nhs.net; born 12/03/1980.\n";
  }
  const InspectionReport text_want = inspect(two, notes, "notes.txt", 0, large);
  ASSERT_TRUE(text_want.text);
  ASSERT_FALSE(text_want.table.is_table);
  ASSERT_GT(text_want.identifiers.nhs_numbers, 10000);
  ASSERT_GT(text_want.identifiers.postcodes, 10000);
  for (std::span<const std::size_t> sizes :
       {std::span<const std::size_t>(large), std::span<const std::size_t>(mixed)}) {
    const InspectionReport got = inspect(two, notes, "notes.txt", 1, sizes);
    expect_same(got, text_want);
    EXPECT_EQ(got.identifiers.dates_of_birth, text_want.identifiers.dates_of_birth);
  }
}

// A busy gateway bounds the side lanes open at once: past the bound, a pipeline runs its content inspectors on
// its caller, without copies, and takes a lane at a later chunk once one is free.
TEST(InspectionExecutor, PastItsBoundOnSideLanesAPipelineInspectsOnItsCaller) {
  EXPECT_EQ(InspectionExecutor({.threads = 3}).options().max_side_lanes, 6u);  // by default twice the threads
  InspectionExecutor executor({.threads = 2, .max_side_lanes = 1});
  const std::size_t chunk = 256u << 10;
  const std::string data = sample_csv(200000);
  ASSERT_GT(data.size(), 8 * chunk);
  const InspectionReport want = direct(data, chunk);
  ASSERT_TRUE(want.table.is_table);
  ASSERT_GT(want.identifiers.nhs_numbers, 0);

  std::size_t granted = 0;
  InspectionOptions options = csv_options(data.size());
  options.side_lane = [&](std::size_t depth) {
    std::unique_ptr<SideLane> lane = executor.side_lane(depth);
    if (lane) ++granted;
    return lane;
  };
  InspectionPipeline pipeline(options);
  std::size_t at = 0;
  auto feed = [&](std::size_t chunks) {
    for (std::size_t i = 0; i < chunks && at < data.size(); ++i, at += chunk) {
      ASSERT_TRUE(pipeline.update({data.data() + at, std::min(chunk, data.size() - at)}).is_ok());
    }
  };

  std::unique_ptr<SideLane> held = executor.side_lane(2);  // another upload's
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(executor.side_lane(2), nullptr);
  feed(2);
  EXPECT_EQ(granted, 0u);
  EXPECT_EQ(executor.side_lanes_open(), 1u);

  held.reset();
  feed(2);
  EXPECT_EQ(granted, 1u);  // the table's lane, from the next chunk on
  EXPECT_EQ(executor.side_lanes_open(), 1u);

  pipeline.pause();  // ends the lane
  EXPECT_EQ(executor.side_lanes_open(), 0u);
  held = executor.side_lane(2);
  ASSERT_NE(held, nullptr);
  feed(2);
  EXPECT_EQ(granted, 1u);

  held.reset();
  feed(SIZE_MAX);
  EXPECT_EQ(granted, 2u);
  ASSERT_TRUE(pipeline.finish("/nonexistent").is_ok());
  EXPECT_EQ(executor.side_lanes_open(), 0u);
  expect_same(pipeline.report(), want);

  // With two lanes asked for (the table's and the scanner's), either may be refused while the other is given:
  // lanes granted at random, every combination in turn as the pauses end the lanes, the same facts.
  InspectionExecutor three({.threads = 3});
  for (std::size_t side_lanes : {1u, 2u}) {
    std::mt19937 random(static_cast<unsigned>(side_lanes));
    InspectionOptions some = csv_options(data.size());
    some.side_lanes = side_lanes;
    some.side_lane = [&](std::size_t depth) {
      return random() % 2 == 0 ? three.side_lane(depth) : std::unique_ptr<SideLane>();
    };
    InspectionPipeline sometimes(some);
    for (std::size_t from = 0, i = 0; from < data.size(); from += chunk, ++i) {
      ASSERT_TRUE(sometimes.update({data.data() + from, std::min(chunk, data.size() - from)}).is_ok());
      if (i % 2 == 1) sometimes.pause();
    }
    ASSERT_TRUE(sometimes.finish("/nonexistent").is_ok());
    expect_same(sometimes.report(), want);
  }
}

TEST(InspectionExecutor, ASideLaneRunsItsWorkInOrderOnAWorkerWhileTheCallerGoesOn) {
  InspectionExecutor executor({.threads = 2});
  std::unique_ptr<SideLane> lane = executor.side_lane(2);
  std::mutex mutex;
  std::condition_variable changed;
  bool started = false;
  bool release = false;
  std::thread::id worker;
  std::vector<int> order;
  lane->post([&] {
    std::unique_lock lock(mutex);
    worker = std::this_thread::get_id();
    started = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
    order.push_back(0);
  });
  {
    // post() has returned while its piece runs: only another thread can be running it.
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return started; }));
    EXPECT_NE(worker, std::this_thread::get_id());
    release = true;
  }
  changed.notify_all();
  for (int i = 1; i <= 200; ++i) lane->post([&order, i] { order.push_back(i); });
  lane->wait();
  ASSERT_EQ(order.size(), 201u);
  for (int i = 0; i <= 200; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(InspectionExecutor, AFullSideLaneRunsItsWorkOnTheCallerWhenNoWorkerIsFree) {
  InspectionExecutor executor({.threads = 1});
  // Occupy the only worker with another lane's piece.
  std::unique_ptr<SideLane> other = executor.side_lane(1);
  std::mutex mutex;
  std::condition_variable changed;
  bool worker_busy = false;
  bool release = false;
  other->post([&] {
    std::unique_lock lock(mutex);
    worker_busy = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return worker_busy; }));
  }
  std::unique_ptr<SideLane> lane = executor.side_lane(1);
  std::vector<std::thread::id> threads;
  lane->post([&] { threads.push_back(std::this_thread::get_id()); });
  // The lane holds one piece, which no worker can take: the caller runs it before queueing the next.
  lane->post([&] { threads.push_back(std::this_thread::get_id()); });
  ASSERT_EQ(threads.size(), 1u);
  lane->wait();
  EXPECT_EQ(threads, (std::vector<std::thread::id>{std::this_thread::get_id(), std::this_thread::get_id()}));
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  other->wait();

  InspectionExecutor none({.threads = 0});
  std::unique_ptr<SideLane> inline_lane = none.side_lane(4);
  std::vector<int> order;
  inline_lane->post([&] { order.push_back(1); });
  EXPECT_EQ(order, (std::vector<int>{1}));  // run at once
  inline_lane->post([&] { order.push_back(2); });
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(InspectionExecutor, DestroyingASideLaneWaitsForItsWork) {
  InspectionExecutor executor({.threads = 2});
  std::atomic<int> done = 0;
  {
    std::unique_ptr<SideLane> lane = executor.side_lane(3);
    for (int i = 0; i < 3; ++i) {
      lane->post([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 3);
}

TEST(InspectionExecutor, APipelineErrorReachesTheCallerAndSticks) {
  InspectionExecutor executor({.threads = 2, .max_queued_bytes = 8u << 20, .batch_bytes = 1024});
  InspectionOptions options = csv_options(2000);  // declares 2,000 bytes; 10,000 arrive
  InspectionPipeline pipeline(options);
  InspectionFeed feed(executor, pipeline);
  std::string data = sample_csv(1000).substr(0, 10000);
  runtime::Status last = runtime::Status::ok();
  for (std::size_t at = 0; at < data.size() && last.is_ok(); at += 500) last = feed.update({data.data() + at, 500});
  runtime::Status drained = feed.drain();
  ASSERT_FALSE(drained.is_ok());
  EXPECT_NE(drained.message().find("2000"), std::string::npos) << drained.message();
  EXPECT_FALSE(feed.update({data.data(), 10}).is_ok());
  EXPECT_LE(pipeline.bytes_received(), 2000u);
}

// As a server reads a body: into `buffer_bytes` of one buffer from `offset`, handed over each time they fill
// (and whatever is left at the end); every `copy_every`-th piece goes through update() instead. Each buffer
// that comes back is overwritten at once, as the next socket read would, so a hand-over that kept reading the
// caller's buffer, or read it from anywhere but `offset`, would see garbage.
// With `lanes`, the pipeline reads its content beside the hash, in lanes of `executor`.
InspectionReport handed_over(InspectionExecutor& executor, const std::string& data, std::size_t buffer_bytes,
                             std::size_t copy_every = 0, std::size_t offset = 0, bool lanes = false) {
  return fed(executor, data, lanes, [&](InspectionFeed& feed) {
    std::vector<char> buffer(offset + buffer_bytes, '#');
    std::size_t piece = 0;
    for (std::size_t at = 0; at < data.size(); at += buffer_bytes, ++piece) {
      const std::size_t size = std::min(buffer_bytes, data.size() - at);
      if (copy_every != 0 && piece % copy_every == copy_every - 1) {
        EXPECT_TRUE(feed.update({data.data() + at, size}).is_ok());
        continue;
      }
      std::copy_n(data.data() + at, size, buffer.data() + offset);
      EXPECT_TRUE((offset == 0 ? feed.hand_over(buffer, size) : feed.hand_over(buffer, offset, size)).is_ok());
      EXPECT_GE(buffer.size(), offset + buffer_bytes);
      std::fill(buffer.begin(), buffer.end(), '#');
    }
  });
}

TEST(InspectionExecutor, HandedOverBuffersReachThePipelineInOrderWithCopiedBytes) {
  std::string data = sample_csv(30000);
  InspectionReport want = direct(data, 65536);
  ASSERT_GT(want.identifiers.nhs_numbers, 0);
  InspectionExecutor executor({.threads = 2, .max_queued_bytes = 8u << 20, .batch_bytes = 16384});
  expect_same(handed_over(executor, data, 16384), want);
  // Pieces given by update() between hand-overs keep their place in the stream.
  expect_same(handed_over(executor, data, 16384, /*copy_every=*/3), want);
  // Pieces under a quarter of a batch are copied, as update() does.
  expect_same(handed_over(executor, data, 1000), want);
  // Bytes that start past the buffer's start (a server aligns its reads for the disk) are read from there,
  // whether queued, copied or inspected by the caller.
  expect_same(handed_over(executor, data, 16384, /*copy_every=*/3, /*offset=*/3996), want);
  expect_same(handed_over(executor, data, 1000, /*copy_every=*/0, /*offset=*/96), want);
  // Over the byte budget the caller inspects its own buffer.
  InspectionExecutor tight({.threads = 1, .max_queued_bytes = 100, .batch_bytes = 16384});
  expect_same(handed_over(tight, data, 16384, /*copy_every=*/2), want);
  expect_same(handed_over(tight, data, 16384, /*copy_every=*/0, /*offset=*/4000), want);
  InspectionExecutor inline_only({.threads = 0});
  expect_same(handed_over(inline_only, data, 16384), want);
  expect_same(handed_over(inline_only, data, 16384, /*copy_every=*/0, /*offset=*/10), want);
  EXPECT_EQ(executor.queued_bytes(), 0u);
}

// A pipeline whose content inspectors run beside the hash keeps a large buffer handed over for them rather than
// copy it, and gives back one they are done with: the bytes still reach every inspector in order, wherever they
// start in the buffer, between pieces that are copied, and between smaller chunks, which are copied.
TEST(InspectionExecutor, HandedOverBuffersAreReadBesideTheHashWithoutACopy) {
  const std::size_t large = InspectionPipeline::kKeepBytes;
  std::string data = sample_csv(200000);
  ASSERT_GT(data.size(), 12 * large);
  InspectionReport want = direct(data, 65536);
  ASSERT_GT(want.identifiers.nhs_numbers, 0);
  InspectionExecutor executor({.threads = 2, .max_queued_bytes = 64u << 20, .batch_bytes = large});
  expect_same(handed_over(executor, data, large, /*copy_every=*/0, /*offset=*/0, /*lanes=*/true), want);
  expect_same(handed_over(executor, data, large, /*copy_every=*/3, /*offset=*/0, /*lanes=*/true), want);
  expect_same(handed_over(executor, data, large, /*copy_every=*/2, /*offset=*/4000, /*lanes=*/true), want);
  expect_same(handed_over(executor, data, large / 2, /*copy_every=*/5, /*offset=*/96, /*lanes=*/true), want);
  // Over the byte budget the caller inspects, and its buffer may be kept all the same.
  InspectionExecutor tight({.threads = 2, .max_queued_bytes = 100, .batch_bytes = large});
  expect_same(handed_over(tight, data, large, /*copy_every=*/0, /*offset=*/0, /*lanes=*/true), want);
}

// The pipeline never writes a buffer it kept (its caller may still be writing it to disk), even when copies
// of later chunks take its place in the lanes; it lets it go when the lanes end. A chunk under kKeepBytes is
// copied, and its buffer stays with the caller.
TEST(InspectionExecutor, APipelineNeverWritesABufferItKept) {
  const std::size_t chunk = InspectionPipeline::kKeepBytes;
  const std::string data = sample_csv(200000);
  ASSERT_GT(data.size(), 12 * chunk);
  InspectionExecutor executor({.threads = 2});
  InspectionOptions options = csv_options(data.size());
  options.side_lane = executor.side_lane_function();
  InspectionPipeline pipeline(options);
  std::size_t at = 0;
  ASSERT_TRUE(pipeline.update({data.data(), chunk}).is_ok());  // the sniffing prefix: the lanes start after it
  at += chunk;
  std::vector<char> small(data.begin() + static_cast<std::ptrdiff_t>(at),
                          data.begin() + static_cast<std::ptrdiff_t>(at + chunk - 1));
  const char* own = small.data();
  ASSERT_TRUE(pipeline.update(small, 0, small.size()).is_ok());
  at += small.size();
  EXPECT_EQ(small.data(), own);  // copied
  std::vector<char> buffer(data.begin() + static_cast<std::ptrdiff_t>(at),
                           data.begin() + static_cast<std::ptrdiff_t>(at + chunk));
  const char* kept = buffer.data();
  const std::vector<char> bytes = buffer;
  ASSERT_TRUE(pipeline.update(buffer, 0, chunk).is_ok());
  at += chunk;
  EXPECT_NE(buffer.data(), kept);  // kept, and another (here an empty one) given back
  // Copied chunks go round every place in the lanes, the kept buffer's among them.
  for (int i = 0; i < 6; ++i, at += chunk) ASSERT_TRUE(pipeline.update({data.data() + at, chunk}).is_ok());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), kept)) << "a kept buffer was written";
  pipeline.pause();
  for (; at < data.size(); at += chunk) {
    ASSERT_TRUE(pipeline.update({data.data() + at, std::min(chunk, data.size() - at)}).is_ok());
  }
  ASSERT_TRUE(pipeline.finish("/nonexistent").is_ok());
  expect_same(pipeline.report(), direct(data, chunk));
}

TEST(InspectionExecutor, AHandOverTakesTheBufferItselfAndGivesAnotherBack) {
  const std::string data = sample_csv(2000);
  InspectionPipeline pipeline(csv_options(data.size()));
  InspectionExecutor executor({.threads = 1, .max_queued_bytes = 8u << 20, .batch_bytes = 4096});
  InspectionFeed feed(executor, pipeline);
  std::vector<char> buffer(data.begin(), data.begin() + 8192);
  const char* given = buffer.data();
  ASSERT_TRUE(feed.hand_over(buffer, buffer.size()).is_ok());
  EXPECT_NE(buffer.data(), given);  // the feed holds the first buffer: no copy was made
  EXPECT_GE(buffer.size(), 8192u);
  ASSERT_TRUE(feed.drain().is_ok());
  EXPECT_EQ(pipeline.bytes_received(), 8192u);
  // Once the worker is done with it, the first buffer is the one handed back next.
  std::copy_n(data.data() + 8192, 8192, buffer.data());
  ASSERT_TRUE(feed.hand_over(buffer, 8192).is_ok());
  EXPECT_EQ(buffer.data(), given);
  ASSERT_TRUE(feed.drain().is_ok());
  EXPECT_EQ(pipeline.bytes_received(), 16384u);

  // Without workers the pipeline reads the caller's buffer where it is, and the caller keeps it.
  InspectionExecutor inline_only({.threads = 0});
  InspectionPipeline direct_pipeline(csv_options(data.size()));
  InspectionFeed direct_feed(inline_only, direct_pipeline);
  std::vector<char> own(data.begin(), data.end());
  const char* kept = own.data();
  ASSERT_TRUE(direct_feed.hand_over(own, own.size()).is_ok());
  EXPECT_EQ(own.data(), kept);
  EXPECT_EQ(direct_pipeline.bytes_received(), data.size());
}

}  // namespace
}  // namespace airlock::gateway::inspect
