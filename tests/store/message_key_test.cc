// The SIP dictionary (compression 2), the messages' key hash and its
// collision handling, and the migration of version 1 databases to them.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "store/record_codec.h"
#include "store/sqlite_schema.h"
#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using internal::DecompressMessage;
using internal::MessageCompressor;
using internal::MessageKeyHash;
using testing::Ip4;
using testing::OpenOrDie;
using testing::TempDir;

constexpr TimestampNs kT0 = 1700000000 * kNsPerSecond;

const char kInvite[] =
    "INVITE sip:+4940987654@b.example.net SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-77-1\r\n"
    "From: \"Bob\" <sip:+4930123456@a.example.net>;tag=77a\r\n"
    "To: <sip:+4940987654@b.example.net>\r\n"
    "Call-ID: 77-1@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:bob@10.0.0.1:5060>\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 129\r\n"
    "\r\n"
    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n";

StoredMessage Message(std::string_view call_id, TimestampNs ts, std::string_view raw) {
  StoredMessage m;
  m.call_id = call_id;
  m.ts = ts;
  m.src_ip = Ip4(10, 0, 0, 1);
  m.dst_ip = Ip4(10, 0, 0, 2);
  m.src_port = 5060;
  m.dst_port = 5080;
  m.transport = "udp";
  m.method = "INVITE";
  m.cseq = 1;
  m.raw = raw;
  return m;
}

void ExecOrFail(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << sql << ": " << (error ? error : "");
}

TEST(SipDictionary, RoundTripsAndBeatsPlainZstd) {
  MessageCompressor plain(1, 0.2, false);
  MessageCompressor with_dict(1, 0.2, true);
  std::string_view stored;
  ASSERT_EQ(plain.Compress(kInvite, &stored), internal::kCompressionZstd);
  std::string plain_frame(stored);
  ASSERT_EQ(with_dict.Compress(kInvite, &stored), internal::kCompressionZstdSip1);
  std::string dict_frame(stored);
  EXPECT_LT(dict_frame.size(), plain_frame.size() * 3 / 4)
      << "plain " << plain_frame.size() << " bytes, with the dictionary " << dict_frame.size();

  std::string raw;
  ASSERT_TRUE(DecompressMessage(internal::kCompressionZstdSip1, dict_frame, sizeof(kInvite) - 1,
                                &raw).ok());
  EXPECT_EQ(raw, kInvite);
  ASSERT_TRUE(DecompressMessage(internal::kCompressionZstd, plain_frame, sizeof(kInvite) - 1,
                                &raw).ok());
  EXPECT_EQ(raw, kInvite);
  // A dictionary frame read as a plain one (or cut short) is an error, not a crash.
  EXPECT_FALSE(DecompressMessage(internal::kCompressionZstd, dict_frame, sizeof(kInvite) - 1,
                                 &raw).ok());
  EXPECT_FALSE(DecompressMessage(internal::kCompressionZstdSip1,
                                 dict_frame.substr(0, dict_frame.size() / 2),
                                 sizeof(kInvite) - 1, &raw).ok());
  EXPECT_FALSE(DecompressMessage(3, dict_frame, sizeof(kInvite) - 1, &raw).ok());
}

TEST(SipDictionary, LevelThreeAndEveryMessageSizeRoundTrip) {
  MessageCompressor compressor(3, 0.0, true);
  std::string text;
  for (int i = 0; text.size() < 70000; ++i) text += "a=rtpmap:" + std::to_string(i) + " x\r\n";
  for (size_t size : {1u, 17u, 400u, 1500u, 65000u}) {
    std::string_view in(text.data(), size), stored;
    int compression = compressor.Compress(in, &stored);
    std::string raw;
    ASSERT_TRUE(DecompressMessage(compression, stored, size, &raw).ok()) << size;
    EXPECT_EQ(raw, in) << size;
  }
}

TEST(MessageKeyHash, IsFixedAndSeesEveryField) {
  int64_t h = MessageKeyHash("s", "c1", "10.0.0.1", 5060, "10.0.0.2", 5080, 400);
  // Stored in every database: this value must never change.
  EXPECT_EQ(h, MessageKeyHash("s", "c1", "10.0.0.1", 5060, "10.0.0.2", 5080, 400));
  EXPECT_EQ(static_cast<uint64_t>(h), 0x2889f6761a60794dull) << std::hex << h;
  EXPECT_NE(h, MessageKeyHash("", "c1", "10.0.0.1", 5060, "10.0.0.2", 5080, 400));
  EXPECT_NE(h, MessageKeyHash("s", "c2", "10.0.0.1", 5060, "10.0.0.2", 5080, 400));
  EXPECT_NE(h, MessageKeyHash("s", "c1", "10.0.0.3", 5060, "10.0.0.2", 5080, 400));
  EXPECT_NE(h, MessageKeyHash("s", "c1", "10.0.0.1", 5061, "10.0.0.2", 5080, 400));
  EXPECT_NE(h, MessageKeyHash("s", "c1", "10.0.0.1", 5060, "10.0.0.3", 5080, 400));
  EXPECT_NE(h, MessageKeyHash("s", "c1", "10.0.0.1", 5060, "10.0.0.2", 5081, 400));
  EXPECT_NE(h, MessageKeyHash("s", "c1", "10.0.0.1", 5060, "10.0.0.2", 5080, 401));
  // Texts carry their length: moving a byte between fields changes the hash.
  EXPECT_NE(MessageKeyHash("ab", "c", "", 0, "", 0, 0), MessageKeyHash("a", "bc", "", 0, "", 0, 0));
}

// Another message already holds (ts, key_hash) of the one being stored, as a
// true 64-bit collision would: the new message is stored under the next hash
// value, and storing it again is still recognised as a duplicate.
TEST(MessageKeyHash, CollisionKeepsBothMessagesAndStillDeduplicates) {
  TempDir dir;
  std::string path = dir.File("collision.db");
  { ASSERT_NE(OpenOrDie(path), nullptr); }
  StoredMessage m = Message("victim", kT0, kInvite);
  int64_t hash = MessageKeyHash("", "victim", "10.0.0.1", 5060, "10.0.0.2", 5080,
                                static_cast<int64_t>(sizeof(kInvite) - 1));
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ExecOrFail(db, "INSERT INTO messages(call_id, ts, size, compression, raw, key_hash) VALUES("
                   "'squatter', " + std::to_string(kT0) + ", 3, 0, 'abc', " +
                       std::to_string(hash) + ")");
    sqlite3_close(db);
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  store->AddMessage(m);
  store->AddMessage(m);
  ASSERT_TRUE(store->Flush().ok());
  StoreCounters c = store->counters();
  EXPECT_EQ(c.messages_written, 1u);
  EXPECT_EQ(c.duplicates_ignored, 1u);
  auto rows = store->MessagesOfCall("victim");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows.value()[0].raw, kInvite);
  auto squatter = store->MessagesOfCall("squatter");
  ASSERT_TRUE(squatter.ok());
  ASSERT_EQ(squatter->size(), 1u);
  EXPECT_EQ(squatter.value()[0].raw, "abc");
  EXPECT_EQ(store->CountRows("messages").value(), 2);
}

// A database written by schema version 1 (plain zstd rows, the old unique
// index) is migrated: its rows stay readable and are still deduplicated, and
// new rows use the dictionary.
TEST(MessageKeyHash, VersionOneDatabaseIsMigratedAndKeepsDeduplicating) {
  TempDir dir;
  std::string path = dir.File("v1.db");
  MessageCompressor plain(1, 0.2, false);
  std::string_view frame;
  ASSERT_EQ(plain.Compress(kInvite, &frame), internal::kCompressionZstd);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ExecOrFail(db, internal::SqliteMigrations()[0].sql);
    ExecOrFail(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                   "description TEXT NOT NULL, applied_at_ns INTEGER NOT NULL);"
                   "INSERT INTO schema_migrations VALUES(1, 'initial', 0)");
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "INSERT INTO messages(sensor, call_id, ts, src_ip, src_port, "
                                 "dst_ip, dst_port, transport, method, status, cseq, size, "
                                 "compression, raw) VALUES('', 'old', ?, '10.0.0.1', 5060, "
                                 "'10.0.0.2', 5080, 'udp', 'INVITE', 0, 1, ?, 1, ?)",
                                 -1, &st, nullptr),
              SQLITE_OK);
    sqlite3_bind_int64(st, 1, kT0);
    sqlite3_bind_int64(st, 2, static_cast<int64_t>(sizeof(kInvite) - 1));
    sqlite3_bind_blob(st, 3, frame.data(), static_cast<int>(frame.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  store->AddMessage(Message("old", kT0, kInvite));      // already there
  store->AddMessage(Message("new", kT0 + 1, kInvite));  // new, with the dictionary
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->counters().duplicates_ignored, 1u);
  EXPECT_EQ(store->CountRows("messages").value(), 2);
  auto old_rows = store->MessagesOfCall("old");
  ASSERT_TRUE(old_rows.ok()) << old_rows.status().message();
  ASSERT_EQ(old_rows->size(), 1u);
  EXPECT_EQ(old_rows.value()[0].compression, 1);
  EXPECT_EQ(old_rows.value()[0].raw, kInvite);
  auto new_rows = store->MessagesOfCall("new");
  ASSERT_TRUE(new_rows.ok());
  ASSERT_EQ(new_rows->size(), 1u);
  EXPECT_EQ(new_rows.value()[0].compression, 2);
  EXPECT_EQ(new_rows.value()[0].raw, kInvite);
}

TEST(SipDictionary, EveryDatabaseCarriesItForOtherTools) {
  TempDir dir;
  std::string path = dir.File("carries.db");
  { ASSERT_NE(OpenOrDie(path), nullptr); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT dictionary FROM compression_dictionaries "
                               "WHERE compression = 2",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  std::string stored(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                     static_cast<size_t>(sqlite3_column_bytes(st, 0)));
  EXPECT_EQ(stored, internal::SipDictionaryV1());
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(SipDictionary, StoreWithoutTheDictionaryWritesPlainZstd) {
  TempDir dir;
  StoreOptions options;
  options.url = dir.File("plain.db");
  options.zstd_dictionary = false;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  (*store)->AddMessage(Message("c", kT0, kInvite));
  ASSERT_TRUE((*store)->Flush().ok());
  auto rows = (*store)->MessagesOfCall("c");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows.value()[0].compression, 1);
  EXPECT_EQ(rows.value()[0].raw, kInvite);
}

}  // namespace
}  // namespace sipman::store
