// The dashboard's alert banner: "3 alerts firing" and the one or two most
// severe (rule and key; hovering one gives its value against its
// thresholds), linking to the Alerts page; hidden while none fires. Its
// figures are alerts.ts' bannerSummary and bannerItemTitle.
import { alertName, bannerItemTitle, BannerSummary } from '../../alerts';
import { clear, h } from '../../util';

export class AlertBanner {
  readonly el = h('a', { class: 'alert-banner', id: 'alert-banner', href: '#/alerts',
    hidden: true });
  private key = '';

  draw(sum: BannerSummary | null): void {
    const key = JSON.stringify(sum && [sum.count, sum.severity,
      sum.named.map((a) => [a.id, a.rule, a.key, a.severity, a.fired_at, a.value])]);
    if (key === this.key) return;
    this.key = key;
    this.el.hidden = !sum;
    clear(this.el);
    if (!sum) return;
    this.el.className = `alert-banner sev-${sum.severity || 'warning'}`;
    this.el.dataset.count = String(sum.count);
    this.el.append(h('span', { class: 'alert-banner-icon', 'aria-hidden': 'true' }, '⚠'),
      h('span', { class: 'alert-banner-text' }, h('strong', {}, sum.title),
        sum.named.length ? ': ' : '',
        sum.named.map((a, i) => h('span', { class: 'alert-banner-item', title: bannerItemTitle(a) },
          i ? ', ' : '',
          h('span', { class: `badge sev-${a.severity}` }, a.severity), ' ', alertName(a))),
        sum.count > sum.named.length ? h('span', { class: 'muted' },
          `, and ${sum.count - sum.named.length} more`) : null),
      h('span', { class: 'spacer' }),
      h('span', { class: 'alert-banner-link' }, 'Show alerts →'));
  }
}
