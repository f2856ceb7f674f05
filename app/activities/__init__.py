"""Community activities (社区活动): publishing, sign-ups and attendance."""
