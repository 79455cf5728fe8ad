// Codec facts: RFC 3551's static payload types and clocks, and the E-model
// figures of ITU-T G.113 Appendix I (Ie, Table I.1; Bpl, Table I.3).
#include <cmath>

#include "base/ascii.h"
#include "media/media.h"

namespace sipman::media {
namespace {

struct EModelFigures {
  std::string_view name;
  double ie, bpl;
};

// G.711 is taken with its packet-loss concealment (G.711 Appendix I), as
// every softphone and gateway here has it; without PLC its Bpl is 4.3.
constexpr EModelFigures kEModel[] = {
    {"PCMU", 0, 25.1},     {"PCMA", 0, 25.1},  {"G729", 11, 19.0}, {"G729A", 11, 19.0},
    {"G723", 15, 16.1},    {"GSM-EFR", 5, 10.0},
};

CodecInfo WithEModel(CodecInfo info) {
  for (const EModelFigures& e : kEModel) {
    if (EqualsIgnoreCase(e.name, info.name)) {
      info.has_emodel = true;
      info.ie = e.ie;
      info.bpl = e.bpl;
      break;
    }
  }
  return info;
}

}  // namespace

CodecInfo StaticCodec(uint8_t payload_type) {
  // RFC 3551 tables 4 and 5; the clocks are those Wireshark's RTP analysis
  // uses too, so that jitter is computed in the same units.
  struct Entry {
    uint8_t pt;
    std::string_view name;
    uint32_t clock;
  };
  static constexpr Entry kStatic[] = {
      {0, "PCMU", 8000},   {3, "GSM", 8000},      {4, "G723", 8000},    {5, "DVI4", 8000},
      {6, "DVI4", 16000},  {7, "LPC", 8000},      {8, "PCMA", 8000},    {9, "G722", 8000},
      {10, "L16", 44100},  {11, "L16", 44100},    {12, "QCELP", 8000},  {13, "CN", 8000},
      {14, "MPA", 90000},  {15, "G728", 8000},    {16, "DVI4", 11025},  {17, "DVI4", 22050},
      {18, "G729", 8000},  {19, "CN", 8000},      {25, "CelB", 90000},  {26, "JPEG", 90000},
      {28, "nv", 90000},   {31, "H261", 90000},   {32, "MPV", 90000},   {33, "MP2T", 90000},
      {34, "H263", 90000},
  };
  for (const Entry& e : kStatic) {
    if (e.pt == payload_type) return WithEModel(CodecInfo{e.name, e.clock});
  }
  return CodecInfo{};
}

CodecInfo CodecByName(std::string_view name, uint32_t clock_rate) {
  return WithEModel(CodecInfo{name, clock_rate});
}

double EModelR(double ie, double bpl, double loss_percent, double burst_ratio,
               double one_way_delay_ms) {
  // G.107 section 7.3: the delay impairment Idd for a one-way delay Ta over
  // 100 ms (Idte and Idle are negligible at the default echo values).
  double idd = 0;
  if (one_way_delay_ms > 100) {
    const double x = std::log10(one_way_delay_ms / 100) / std::log10(2.0);
    idd = 25 * (std::pow(1 + std::pow(x, 6), 1.0 / 6) -
                3 * std::pow(1 + std::pow(x / 3, 6), 1.0 / 6) + 2);
  }
  // G.107 section 7.4: the effective equipment impairment.
  const double ppl = loss_percent < 0 ? 0 : loss_percent;
  const double burst = burst_ratio < 1 ? 1 : burst_ratio;
  const double ie_eff = ie + (95 - ie) * ppl / (ppl / burst + bpl);
  // 93.2: R at G.107's default values (Ro - Is), A = 0.
  return 93.2 - idd - ie_eff;
}

double MosFromR(double r) {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

}  // namespace sipman::media
