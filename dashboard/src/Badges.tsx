import type { ReviewView, RunStatus } from './api.js';

export function StatusBadge({ status }: { status: RunStatus }) {
  return <span className={`badge st-${status.toLowerCase()}`}>{status}</span>;
}

const REVIEW_TEXT: Record<ReviewView['status'], string> = { pending: 'review pending', merged: 'merged', scrapped: 'scrapped', pr_opened: 'PR open' };

export function ReviewBadge({ review }: { review: ReviewView }) {
  return (
    <span className={`badge rv-${review.status}`} title={review.actor ? `by ${review.actor}` : undefined}>
      {REVIEW_TEXT[review.status]}
    </span>
  );
}
