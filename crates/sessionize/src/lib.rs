//! openqoe-sessionize: Sessionizer: live views and the rules that end them
