// The notification outbox (docs/reviews.md, "Notifications"): webhook deliveries written in the same
// transaction as the event that causes them, claimed with a lease, and marked delivered, retried or failed.
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "airlock/gateway/reviews.h"
#include "airlock/gateway/store.h"
#include "sqlite_database.h"
#include "sqlite_store.h"

namespace airlock::gateway {

using sqlite::Statement;
using store_internal::dump;
using store_internal::parse_object;
using store_internal::Transaction;

namespace {

constexpr const char* kNotificationColumns =
    "id, event, coalesce(transfer_id, ''), target, payload_json, state, attempts, next_attempt_at, last_error, "
    "created_at, updated_at";
constexpr std::size_t kMaxDueLimit = 1000;
constexpr std::size_t kMaxErrorBytes = 2000;

Notification read_notification(const Statement& row) {
  Notification notification;
  notification.id = row.integer(0);
  notification.event = row.text(1);
  notification.transfer_id = row.text(2);
  notification.target = row.text(3);
  notification.payload_json = row.text(4);
  const std::string state = row.text(5);
  notification.state = state == "delivered" ? DeliveryState::kDelivered
                       : state == "failed"  ? DeliveryState::kFailed
                                            : DeliveryState::kPending;
  notification.attempts = static_cast<std::int32_t>(row.integer(6));
  notification.next_attempt_at = row.integer(7);
  notification.last_error = row.text(8);
  notification.created_at = row.integer(9);
  notification.updated_at = row.integer(10);
  return notification;
}

// An error text from a webhook's response is kept short (it may be a whole HTML page).
std::string clip(const std::string& error) {
  if (error.size() <= kMaxErrorBytes) return error;
  std::size_t end = kMaxErrorBytes;
  while (end > 0 && (static_cast<unsigned char>(error[end]) & 0xC0) == 0x80) --end;  // not inside a character
  return error.substr(0, end) + "...";
}

}  // namespace

void SqliteTransferStore::set_notification_targets(std::vector<NotificationTarget> targets) {
  targets.erase(std::remove_if(targets.begin(), targets.end(),
                               [](const NotificationTarget& target) { return target.name.empty(); }),
                targets.end());
  std::lock_guard lock(mutex_);
  notification_targets_ = std::move(targets);
}

Result<std::vector<std::int64_t>> SqliteTransferStore::enqueue_locked(std::string_view event,
                                                                      const std::string& transfer_id,
                                                                      const std::string& payload_json, UnixMillis now) {
  std::vector<std::int64_t> ids;
  for (const NotificationTarget& target : notification_targets_) {
    if (!target.events.empty() && std::find(target.events.begin(), target.events.end(), event) == target.events.end()) {
      continue;
    }
    Result<std::unique_ptr<Statement>> insert = db_->prepare(
        "INSERT INTO notification_outbox (event, transfer_id, target, payload_json, state, attempts, next_attempt_at, "
        "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5, ?5)");
    if (!insert) return insert.error();
    Statement& statement = **insert;
    statement.bind(1, event);
    if (transfer_id.empty()) {
      statement.bind_null(2);
    } else {
      statement.bind(2, transfer_id);
    }
    statement.bind(3, target.name).bind(4, payload_json).bind(5, static_cast<std::int64_t>(now));
    if (statement.step() != SQLITE_DONE) return db_->error("cannot enqueue a notification");
    ids.push_back(sqlite3_last_insert_rowid(db_->handle()));
  }
  return ids;
}

Result<std::vector<std::int64_t>> SqliteTransferStore::enqueue_notification(const std::string& event,
                                                                            const std::string& transfer_id,
                                                                            const std::string& payload_json,
                                                                            UnixMillis now) {
  if (event.empty()) return Error{"invalid: a notification needs an event name"};
  Result<nlohmann::json> payload = parse_object(payload_json, "the payload");
  if (!payload) return payload.error();
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  if (!transfer_id.empty()) {
    Result<Transfer> transfer = get_locked(transfer_id);
    if (!transfer) return transfer.error();
  }
  Result<std::vector<std::int64_t>> ids = enqueue_locked(event, transfer_id, dump(*payload), now);
  if (!ids) return ids;
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return ids;
}

Result<std::vector<Notification>> SqliteTransferStore::due_deliveries(UnixMillis now, std::size_t limit,
                                                                      UnixMillis lease) {
  if (lease < 0) return Error{"invalid: the lease must not be negative"};
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return Error{status.message()};
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return Error{status.message()};
  std::vector<Notification> due;
  {
    Result<std::unique_ptr<Statement>> query =
        db_->prepare(std::string("SELECT ") + kNotificationColumns +
                     " FROM notification_outbox WHERE state = 'pending' AND next_attempt_at <= ?1"
                     " ORDER BY next_attempt_at, id LIMIT ?2");
    if (!query) return query.error();
    (*query)->bind(1, static_cast<std::int64_t>(now)).bind(2, static_cast<std::int64_t>(std::min(limit, kMaxDueLimit)));
    int rc;
    while ((rc = (*query)->step()) == SQLITE_ROW) due.push_back(read_notification(**query));
    if (rc != SQLITE_DONE) return db_->error("cannot read the notification outbox");
  }
  for (Notification& notification : due) {
    Result<std::unique_ptr<Statement>> claim = db_->prepare(
        "UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = ?2, updated_at = ?3 WHERE id = ?1");
    if (!claim) return claim.error();
    (*claim)
        ->bind(1, notification.id)
        .bind(2, static_cast<std::int64_t>(now + lease))
        .bind(3, static_cast<std::int64_t>(now));
    if ((*claim)->step() != SQLITE_DONE) return db_->error("cannot claim a notification");
    notification.attempts += 1;
    notification.next_attempt_at = now + lease;
    notification.updated_at = now;
  }
  if (Status status = transaction.commit(); !status) return Error{status.message()};
  return due;
}

Result<Notification> SqliteTransferStore::notification_locked(std::int64_t id) {
  Result<std::unique_ptr<Statement>> query =
      db_->prepare(std::string("SELECT ") + kNotificationColumns + " FROM notification_outbox WHERE id = ?1");
  if (!query) return query.error();
  (*query)->bind(1, id);
  int rc = (*query)->step();
  if (rc == SQLITE_ROW) return read_notification(**query);
  if (rc == SQLITE_DONE) return Error{"not_found: no notification " + std::to_string(id)};
  return db_->error("cannot read notification " + std::to_string(id));
}

Status SqliteTransferStore::finish_delivery(std::int64_t id, DeliveryState state,
                                            std::optional<UnixMillis> next_attempt_at, const std::string& error,
                                            UnixMillis now) {
  std::lock_guard lock(mutex_);
  if (Status status = set_synchronous(true); !status) return status;
  Transaction transaction(*db_);
  if (Status status = transaction.begin(); !status) return status;
  Result<Notification> current = notification_locked(id);
  if (!current) return current.error();
  if (current->state != DeliveryState::kPending) {
    return Error{"conflict: notification " + std::to_string(id) + " is already " +
                 std::string(delivery_state_name(current->state))};
  }
  {
    Result<std::unique_ptr<Statement>> update = db_->prepare(
        "UPDATE notification_outbox SET state = ?2, next_attempt_at = coalesce(?3, next_attempt_at), "
        "last_error = ?4, updated_at = ?5 WHERE id = ?1 AND state = 'pending'");
    if (!update) return update.error();
    Statement& statement = **update;
    // A delivered notification keeps the error of its last failed attempt, for the record.
    const std::string last_error = state == DeliveryState::kDelivered ? current->last_error : clip(error);
    statement.bind(1, id)
        .bind(2, delivery_state_name(state))
        .bind(4, last_error)
        .bind(5, static_cast<std::int64_t>(now));
    if (next_attempt_at) {
      statement.bind(3, static_cast<std::int64_t>(*next_attempt_at));
    } else {
      statement.bind_null(3);
    }
    if (statement.step() != SQLITE_DONE) return db_->error("cannot update notification " + std::to_string(id));
  }
  return transaction.commit();
}

Status SqliteTransferStore::mark_delivered(std::int64_t id, UnixMillis now) {
  return finish_delivery(id, DeliveryState::kDelivered, std::nullopt, "", now);
}

Status SqliteTransferStore::mark_retry(std::int64_t id, UnixMillis next_attempt_at, const std::string& error,
                                       UnixMillis now) {
  return finish_delivery(id, DeliveryState::kPending, next_attempt_at, error, now);
}

Status SqliteTransferStore::mark_failed(std::int64_t id, const std::string& error, UnixMillis now) {
  return finish_delivery(id, DeliveryState::kFailed, std::nullopt, error, now);
}

Result<Notification> SqliteTransferStore::notification(std::int64_t id) {
  std::lock_guard lock(mutex_);
  return notification_locked(id);
}

}  // namespace airlock::gateway
